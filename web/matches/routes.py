"""Matches as every role sees them: list, detail, answer, record progress, confirm or reject
what the other side recorded."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from models import MatchStatus, Role

from ..access import authenticated, is_staff, roles_required
from ..domain import lifecycle
from ..domain import matches as match_service
from ..domain.errors import DomainError, ValidationError, localize
from ..domain.lifecycle import Action
from ..domain.presenters import match_view
from ..forms import apply_errors
from ..localtime import local_today
from . import bp
from .forms import CLOSE_LABELS, DECLINE_LABELS, REJECT_LABELS, DecisionForm, OutcomeForm, RespondForm

STALE_DAYS = 7
STATUS_FILTERS = {
    "open": list(lifecycle.AWAITING_ANSWER),
    "active": sorted(lifecycle.ENGAGED, key=list(MatchStatus).index),
    "done": list(lifecycle.FINAL),
}


@bp.route("/")
@authenticated
def index():
    selected = request.args.get("status", "")
    if selected == "stale" and is_staff(current_user):  # the dashboard's "unanswered for 7 days" card
        items = match_service.waiting_for_answer(STALE_DAYS)
    else:
        items = match_service.matches_for(current_user, status=STATUS_FILTERS.get(selected))
    views = [match_view(m, current_user) for m in items]
    stale = match_service.waiting_for_answer(STALE_DAYS) if is_staff(current_user) else []
    return render_template("matches/index.html", matches=views, selected=selected, filters=STATUS_FILTERS, stale=stale,
                           stale_days=STALE_DAYS)


@bp.route("/<int:match_id>")
@authenticated
def detail(match_id: int):
    return _detail(match_id)


def _detail(match_id: int, *, outcome_form: OutcomeForm | None = None, decision_form: DecisionForm | None = None,
            status: int = 200):
    match = match_service.match_for(current_user, match_id)
    party = match_service.party(current_user, match)
    view = match_view(match, current_user)
    actions = lifecycle.actions_for(match.status, party.side)
    recordable = [a for a in actions if a in lifecycle.RECORDS]
    next_outcome = lifecycle.RECORDS[recordable[0]] if recordable else None
    deciding = next((a for a in actions if a in lifecycle.CONFIRMING), None)
    outcome_form = outcome_form or OutcomeForm()
    if outcome_form.date.data is None:
        outcome_form.date.data = local_today().isoformat()
    why = None
    if party.expert:  # the proposed expert reads why the engine put him forward for this need
        from ..matching.discovery import why_suggested

        why = why_suggested(match.need, match.expert)
    return render_template(
        "matches/detail.html", match=view, party=party, why=why, can_answer=Action.ACCEPT in actions or Action.DECLINE in actions,
        can_accept=Action.ACCEPT in actions, can_decline=Action.DECLINE in actions,
        next_outcome=next_outcome, amount_rule=lifecycle.RULE[recordable[0]].amount if recordable else "",
        can_close=Action.CLOSE in actions, decide_step=lifecycle.CONFIRMING[deciding] if deciding else None,
        respond_form=RespondForm(), outcome_form=outcome_form, decision_form=decision_form or DecisionForm(),
        decline_labels=DECLINE_LABELS, close_labels=CLOSE_LABELS, reject_labels=REJECT_LABELS,
    ), status


@bp.route("/<int:match_id>/respond", methods=["POST"])
@roles_required(Role.EXPERT, Role.ENTERPRISE)
def respond(match_id: int):
    form = RespondForm()
    if not form.validate_on_submit():
        abort(400)
    accept = bool(form.accept.data) and not form.decline.data
    try:
        match = match_service.respond(current_user, match_id, accept, reason=form.reason.data or "", note=form.note.data or "")
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.localized(), "error")
    else:
        _confirm(Action.ACCEPT if accept else Action.DECLINE, match)
    return redirect(url_for("matches.detail", match_id=match_id))


@bp.route("/<int:match_id>/outcome", methods=["POST"])
@authenticated
def outcome(match_id: int):
    form = OutcomeForm()
    if not form.validate_on_submit():
        abort(400)
    status = form.status.data or ""
    details = {"date": form.date.data or "", "amount": form.amount.data or ""} if status != Action.CLOSE.value else None
    try:
        match = match_service.record_outcome(current_user, match_id, status, note=form.note.data or "",
                                             reason=form.reason.data or "", details=details)
    except ValidationError as exc:
        flash(exc.localized(), "error")
        if details is None:  # closing: the reason is picked again on the page
            return redirect(url_for("matches.detail", match_id=match_id))
        apply_errors(form, exc)
        return _detail(match_id, outcome_form=form, status=400)
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.localized(), "error")
    else:
        _confirm(Action(status), match)
    return redirect(url_for("matches.detail", match_id=match_id))


@bp.route("/<int:match_id>/decision", methods=["POST"])
@authenticated
def decision(match_id: int):
    """Confirm or reject the contract or completion the other side recorded."""
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    accept = bool(form.confirm.data) and not form.reject.data
    try:
        match = match_service.decide_outcome(current_user, match_id, form.status.data or "", accept,
                                             reason=form.reason.data or "", note=form.note.data or "")
    except ValidationError as exc:
        flash(exc.localized(), "error")
        apply_errors(form, exc)
        return _detail(match_id, decision_form=form, status=400)
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.localized(), "error")
    else:
        step = next((s for s in MatchStatus if s.value == form.status.data), None)
        _confirm(lifecycle.confirmation_action(step, accept), match)
    return redirect(url_for("matches.detail", match_id=match_id))


def _confirm(action: Action, match) -> None:
    """Flash what the actor did, in words written for the actor (the lifecycle table's)."""
    side = match_service.side_of(current_user, match)
    flash(localize(lifecycle.confirmation(action, match.status, side)), "success")
