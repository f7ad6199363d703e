from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectMultipleField, StringField, SubmitField, TextAreaField

from ..domain.fields import NEED
from ..forms import MultiCheckboxField, field_args, industry_picker


class NeedForm(FlaskForm):
    title = StringField(**field_args(NEED["title"]))
    description = TextAreaField(**field_args(NEED["description"]))
    industry_codes = SelectMultipleField(**field_args(NEED["industry_codes"], description=_l("Hold Ctrl (⌘ on a Mac) to choose several."),
                                                      render_kw=industry_picker(NEED["industry_codes"].max_items)))
    region = StringField(**field_args(NEED["region"]))
    cooperation_modes = MultiCheckboxField(**field_args(NEED["cooperation_modes"]))
    budget_min = IntegerField(**field_args(NEED["budget_min"]))
    budget_max = IntegerField(**field_args(NEED["budget_max"]))
    deadline = DateField(**field_args(NEED["deadline"]))
    anonymous = BooleanField(**field_args(NEED["anonymous"]))
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
