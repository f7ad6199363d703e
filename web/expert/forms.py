from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField

from ..domain.fields import ACHIEVEMENT, PROFILE
from ..forms import MultiCheckboxField, field_args


class ProfileForm(FlaskForm):
    name = StringField(**field_args(PROFILE["name"]))
    title = StringField(**field_args(PROFILE["title"]))
    region = StringField(**field_args(PROFILE["region"]))
    discipline_codes = SelectMultipleField(**field_args(PROFILE["discipline_codes"],
                                                        description=_l("Hold Ctrl (⌘ on a Mac) to choose several.")))
    research_areas = StringField(**field_args(PROFILE["research_areas"]))
    keywords = StringField(**field_args(PROFILE["keywords"]))
    summary = TextAreaField(**field_args(PROFILE["summary"]))
    cooperation_modes = MultiCheckboxField(**field_args(PROFILE["cooperation_modes"]))
    capacity = IntegerField(**field_args(PROFILE["capacity"]))
    available = BooleanField(**field_args(PROFILE["available"]))
    phone = StringField(**field_args(PROFILE["phone"]))
    email = StringField(**field_args(PROFILE["email"]))
    wechat = StringField(**field_args(PROFILE["wechat"]))
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
    kind = SelectField(**field_args(ACHIEVEMENT["kind"], id="achievement-kind"))
    title = StringField(**field_args(ACHIEVEMENT["title"], id="achievement-title"))
    abstract = TextAreaField(**field_args(ACHIEVEMENT["abstract"], id="achievement-abstract"))
    year = IntegerField(**field_args(ACHIEVEMENT["year"], id="achievement-year"))
    authors = StringField(**field_args(ACHIEVEMENT["authors"], id="achievement-authors"))
    venue = StringField(**field_args(ACHIEVEMENT["venue"], id="achievement-venue"))
    submit = SubmitField(_l("Add achievement"), id="achievement-submit")

    def values(self) -> dict:
        return {"kind": self.kind.data, "title": self.title.data, "abstract": self.abstract.data, "year": self.year.data,
                "authors": self.authors.data or "", "venue": self.venue.data or ""}
