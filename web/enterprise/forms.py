from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import MultiCheckboxField


class NeedForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Describe the problem in your own words"), validators=[Length(max=10000)])
    industry_codes = SelectMultipleField(_l("Industry"), validators=[Optional()],
                                        description=_l("Hold Ctrl (⌘ on a Mac) to choose several."))
    region = StringField(_l("Region"), validators=[Length(max=100)])
    cooperation_modes = MultiCheckboxField(_l("Kind of cooperation wanted"), validators=[Optional()])
    budget_min = IntegerField(_l("Budget from (10,000 CNY)"), validators=[Optional(), NumberRange(min=0)])
    budget_max = IntegerField(_l("Budget up to (10,000 CNY)"), validators=[Optional(), NumberRange(min=0)])
    deadline = DateField(_l("Deadline"), validators=[Optional()])
    anonymous = BooleanField(_l("Hide our company name from experts until both sides accept"))
    submit = SubmitField(_l("Save"))

    def values(self) -> dict:
        return {
            "title": self.title.data,
            "description": self.description.data,
            "industry_codes": self.industry_codes.data or [],
            "region": self.region.data,
            "cooperation_modes": self.cooperation_modes.data or [],
            "budget_min": self.budget_min.data,
            "budget_max": self.budget_max.data,
            "deadline": self.deadline.data.isoformat() if self.deadline.data else None,
            "anonymous": bool(self.anonymous.data),
        }
