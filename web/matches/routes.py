"""Matches as every role sees them: list, detail, answer, record progress."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from models import MatchStatus, Role

from ..access import authenticated, is_staff, roles_required
from ..domain import lifecycle
from ..domain import matches as match_service
from ..domain.errors import DomainError, localize
from ..domain.lifecycle import Action
from ..domain.presenters import match_view
from . import bp
from .forms import CLOSE_LABELS, DECLINE_LABELS, OutcomeForm, RespondForm

STATUS_FILTERS = {
    "open": list(lifecycle.AWAITING_ANSWER),
    "active": sorted(lifecycle.ENGAGED, key=list(MatchStatus).index),
    "done": list(lifecycle.FINAL),
}


@bp.route("/")
@authenticated
def index():
    selected = request.args.get("status", "")
    items = match_service.matches_for(current_user, status=STATUS_FILTERS.get(selected))
    views = [match_view(m, current_user) for m in items]
    stale = match_service.waiting_for_answer(7) if is_staff(current_user) else []
    return render_template("matches/index.html", matches=views, selected=selected, filters=STATUS_FILTERS, stale=stale)


@bp.route("/<int:match_id>")
@authenticated
def detail(match_id: int):
    match = match_service.match_for(current_user, match_id)
    party = match_service.party(current_user, match)
    view = match_view(match, current_user)
    actions = lifecycle.actions_for(match.status, party.side)
    outcomes = [MatchStatus(a.value) for a in actions if a in lifecycle.RECORDED_ACTIONS and a != Action.CLOSE]
    why = None
    if party.expert:  # the proposed expert reads why the engine put him forward for this need
        from ..matching.discovery import why_suggested

        why = why_suggested(match.need, match.expert)
    return render_template(
        "matches/detail.html", match=view, party=party, why=why, can_answer=Action.ACCEPT in actions or Action.DECLINE in actions,
        can_accept=Action.ACCEPT in actions, can_decline=Action.DECLINE in actions,
        next_outcome=outcomes[0] if outcomes else None, can_close=Action.CLOSE in actions,
        respond_form=RespondForm(), outcome_form=OutcomeForm(), decline_labels=DECLINE_LABELS, close_labels=CLOSE_LABELS,
    )


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
    try:
        match = match_service.record_outcome(current_user, match_id, form.status.data or "", note=form.note.data or "",
                                             reason=form.reason.data or "")
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.localized(), "error")
    else:
        _confirm(Action(form.status.data), match)
    return redirect(url_for("matches.detail", match_id=match_id))


def _confirm(action: Action, match) -> None:
    """Flash what the actor did, in words written for the actor (the lifecycle table's)."""
    side = match_service.side_of(current_user, match)
    flash(localize(lifecycle.confirmation(action, match.status, side)), "success")
