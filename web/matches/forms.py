from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from ..domain import fields as spec
from ..domain.lifecycle import RULE, Action
from ..domain.matches import CLOSE_REASONS, DECLINE_REASONS

REJECT_REASONS = RULE[Action.REJECT_CONTRACT].reasons
_DATE, _AMOUNT = spec.OUTCOME.fields["date"], spec.OUTCOME.fields["amount"]

DECLINE_LABELS = {
    "not_my_field": _l("Not my field"),
    "no_capacity": _l("No capacity at the moment"),
    "budget": _l("Budget does not fit"),
    "timeline": _l("Timeline does not fit"),
    "location": _l("Too far away"),
    "already_solved": _l("Already solved"),
    "other": _l("Other (please explain)"),
}
REJECT_LABELS = {
    "details_wrong": _l("The date, amount or note is wrong"),
    "not_happened": _l("It has not happened (yet)"),
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
    """Record a step (with its date, amount and note) or close the match. The date and amount
    are read as text: the service checks them and names the field that is wrong."""

    status = HiddenField()
    date = StringField(_l(_DATE.form_label.msgid), validators=[Optional(), Length(max=40)])
    amount = StringField(_l(_AMOUNT.form_label.msgid), validators=[Optional(), Length(max=40)])
    reason = SelectField(_l("Reason for closing"), choices=[SelectChoice("", "—")] + [SelectChoice(k, CLOSE_LABELS[k]) for k in CLOSE_REASONS],
                         validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Record"))


class DecisionForm(FlaskForm):
    """Confirm or reject the contract or completion the other side recorded."""

    status = HiddenField()
    reason = SelectField(_l("Reason for rejecting"), choices=[SelectChoice("", "—")] + [SelectChoice(k, REJECT_LABELS[k]) for k in REJECT_REASONS],
                         validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])
    confirm = SubmitField(_l("Confirm"))
    reject = SubmitField(_l("Reject"))
