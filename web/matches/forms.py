from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from ..domain.matches import CLOSE_REASONS, DECLINE_REASONS

DECLINE_LABELS = {
    "not_my_field": _l("Not my field"),
    "no_capacity": _l("No capacity at the moment"),
    "budget": _l("Budget does not fit"),
    "timeline": _l("Timeline does not fit"),
    "location": _l("Too far away"),
    "already_solved": _l("Already solved"),
    "other": _l("Other (please explain)"),
}
CLOSE_LABELS = {
    "no_response": _l("No response"),
    "need_withdrawn": _l("Need withdrawn"),
    "solved_elsewhere": _l("Solved elsewhere"),
    "not_feasible": _l("Not feasible"),
    "duplicate": _l("Duplicate"),
    "other": _l("Other (please explain)"),
}


class RespondForm(FlaskForm):
    decision = HiddenField()
    reason = SelectField(_l("Reason for declining"), choices=[SelectChoice("", "—")] + [SelectChoice(k, DECLINE_LABELS[k]) for k in DECLINE_REASONS],
                         validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])
    accept = SubmitField(_l("Accept"))
    decline = SubmitField(_l("Decline"))


class OutcomeForm(FlaskForm):
    status = HiddenField()
    reason = SelectField(_l("Reason for closing"), choices=[SelectChoice("", "—")] + [SelectChoice(k, CLOSE_LABELS[k]) for k in CLOSE_REASONS],
                         validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Record"))
