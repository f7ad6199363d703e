from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import MultiCheckboxField


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    title = StringField(_l("Professional title"), validators=[Length(max=100)])
    region = StringField(_l("Region"), validators=[Length(max=100)])
    discipline_codes = SelectMultipleField(_l("Disciplines"), validators=[Optional()],
                                          description=_l("Hold Ctrl (⌘ on a Mac) to choose several."))
    research_areas = StringField(_l("Research areas (separated by commas)"), validators=[Length(max=1500)])
    keywords = StringField(_l("Keywords (separated by commas)"), validators=[Length(max=1500)])
    summary = TextAreaField(_l("What you can do for enterprises"), validators=[Length(max=5000)])
    cooperation_modes = MultiCheckboxField(_l("Kinds of cooperation you accept"), validators=[Optional()])
    capacity = IntegerField(_l("Engagements you can take at once"), validators=[NumberRange(min=0, max=50)])
    available = BooleanField(_l("Available for new engagements"))
    phone = StringField(_l("Phone (private)"), validators=[Length(max=40)])
    email = StringField(_l("E-mail (private)"), validators=[Length(max=200)])
    wechat = StringField(_l("WeChat (private)"), validators=[Length(max=100)])
    submit = SubmitField(_l("Save profile"))

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "title": self.title.data,
            "region": self.region.data,
            "discipline_codes": self.discipline_codes.data or [],
            "research_areas": self.research_areas.data or "",
            "keywords": self.keywords.data or "",
            "summary": self.summary.data,
            "cooperation_modes": self.cooperation_modes.data or [],
            "capacity": self.capacity.data,
            "available": bool(self.available.data),
            "phone": self.phone.data,
            "email": self.email.data,
            "wechat": self.wechat.data,
        }


class AchievementForm(FlaskForm):
    # Explicit ids: this form shares the page with the profile form (both have a title).
    kind = SelectField(_l("Kind"), validators=[DataRequired()], id="achievement-kind")
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)], id="achievement-title")
    abstract = TextAreaField(_l("Abstract"), validators=[Length(max=5000)], id="achievement-abstract")
    year = IntegerField(_l("Year"), validators=[Optional(), NumberRange(min=1950, max=2100)], id="achievement-year")
    submit = SubmitField(_l("Add achievement"), id="achievement-submit")

    def values(self) -> dict:
        return {"kind": self.kind.data, "title": self.title.data, "abstract": self.abstract.data, "year": self.year.data}
