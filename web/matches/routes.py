"""Matches as every role sees them: list, detail, answer, record progress."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from models import MatchStatus, Role

from ..access import authenticated, is_staff, roles_required
from ..domain import matches as match_service
from ..domain.errors import DomainError
from ..domain.notify import message
from ..domain.presenters import match_view
from . import bp
from .forms import CLOSE_LABELS, DECLINE_LABELS, OutcomeForm, RespondForm

STATUS_FILTERS = {
    "open": list(match_service.AWAITING_ANSWER),
    "active": [MatchStatus.CONNECTED, MatchStatus.INTENT, MatchStatus.CONTRACT],
    "done": [MatchStatus.COMPLETED, MatchStatus.CLOSED, MatchStatus.EXPERT_DECLINED, MatchStatus.ENTERPRISE_DECLINED],
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
    next_outcome = match_service.NEXT_OUTCOME.get(match.status)
    can_answer = (party.expert or party.enterprise) and match.status in match_service.AWAITING_ANSWER and not (
        (party.expert and match.expert_accepted_at) or (party.enterprise and match.enterprise_accepted_at))
    return render_template(
        "matches/detail.html", match=view, party=party, can_answer=can_answer, next_outcome=next_outcome,
        can_close=party.coordinator and match.status not in match_service.FINAL,
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
        flash(message(match.status.value), "success")
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
        flash(message(match.status.value), "success")
    return redirect(url_for("matches.detail", match_id=match_id))
