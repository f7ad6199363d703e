"""Coordinator journey: review queue, suggestions with reasons, proposals, account approval."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from models import AccountStatus, ExpertProfile, db

from ..access import STAFF, roles_required
from ..domain import accounts as account_service
from ..domain import dismissals as dismissal_service
from ..domain import interests as interest_service
from ..domain import matches as match_service
from ..domain import needs as need_service
from ..domain import queue as queue_service
from ..domain.errors import FIELD_LABELS, DomainError, localize
from ..domain.events import find_experts
from ..domain.validation import parse_id
from ..forms import ActionForm, industry_choices
from ..matching.search import IndexNotReady, has_strong_match, pair_scores, suggest
from . import bp


@bp.route("/queue")
@roles_required(*STAFF)
def queue():
    """Open needs by default, oldest first; every filter, the order and the page are in the
    query string, so a view can be bookmarked. Bad parameters get a message, not a 500."""
    error = None
    try:
        query = queue_service.parse_query(request.args)
    except queue_service.QueueQueryError as exc:
        query, error = exc.query, exc
    page = None if error else queue_service.queue_page(current_user, query)
    status = 400 if error or (page is not None and page.past_end) else 200
    return render_template("coordinator/queue.html", query=query, page=page, error=error,
                           industries=industry_choices(str(get_locale())), ages=queue_service.AGES,
                           states=queue_service.STATES, sorts=queue_service.SORTS, localize=localize), status


@bp.route("/needs/<int:need_id>")
@roles_required(*STAFF)
def need_detail(need_id: int):
    need = need_service.need_for(current_user, need_id)
    dismissed = dismissal_service.dismissed_for(need_id)
    error = None
    suggestions = []
    try:
        suggestions = suggest(current_user, need_id, limit=20, include_excluded=True, hide=frozenset(dismissed))
    except IndexNotReady as exc:
        error = str(exc)
    existing = {m.expert_id: m for m in match_service.matches_for(current_user, need_id=need_id)}
    find = " ".join(request.args.get("find", "").split())[:100]
    found = find_experts(find) if find else []
    profiles = {p.id: p for p in db.session.scalars(sa.select(ExpertProfile).where(ExpertProfile.id.in_(list(dismissed))))}
    return render_template("coordinator/need_detail.html", need=need, suggestions=suggestions, index_error=error,
                           existing=existing, action_form=ActionForm(), strong_match=has_strong_match(suggestions),
                           dismissed=dismissed, dismissed_profiles=profiles, show_dismissed=request.args.get("dismissed") == "1",
                           reasons=dismissal_service.REASONS, find=find, found=found,
                           interests=interest_service.interests_in(current_user, need_id))


@bp.route("/needs/<int:need_id>/propose", methods=["POST"])
@roles_required(*STAFF)
def propose(need_id: int):
    back = url_for("coordinator.need_detail", need_id=need_id, find=request.form.get("find") or None)
    if not ActionForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(back)
    chosen = [str(i) for i in (parse_id(v) for v in request.form.getlist("expert_id")) if i is not None]
    if not chosen:
        flash(_("Choose at least one expert."), "error")
        return redirect(back)
    chosen = chosen[:20]
    scores = pair_scores(need_id, [int(expert_id) for expert_id in chosen])  # the server's, never the form's
    created = 0
    for expert_id in chosen:
        try:
            _match, new = match_service.propose(current_user, need_id, int(expert_id), score=scores.get(int(expert_id)))
        except DomainError as exc:
            flash(exc.localized(), "error")
            continue
        created += int(new)
    if created:
        flash(_("%(count)s expert(s) proposed. Both sides were notified.", count=created), "success")
    return redirect(back)


@bp.route("/needs/<int:need_id>/dismiss", methods=["POST"])
@roles_required(*STAFF)
def dismiss(need_id: int):
    back = url_for("coordinator.need_detail", need_id=need_id, _anchor="suggestions")
    expert_id = parse_id(request.form.get("expert_id", ""))
    if not ActionForm().validate_on_submit() or expert_id is None:
        flash(_("The form expired. Please try again."), "error")
        return redirect(back)
    try:
        dismissal_service.dismiss(current_user, need_id, expert_id, request.form.get("reason", ""), request.form.get("note", ""))
    except DomainError as exc:
        problems = "; ".join(f"{localize(FIELD_LABELS.get(k, k))}: {localize(v)}" for k, v in exc.fields.items())
        flash(exc.localized() + (f" ({problems})" if problems else ""), "error")
        return redirect(back)
    flash(_("Suggestion dismissed. It is hidden from this need's list and counts against the pair when the ranker learns."),
          "success")
    return redirect(back)


@bp.route("/needs/<int:need_id>/restore", methods=["POST"])
@roles_required(*STAFF)
def restore(need_id: int):
    expert_id = parse_id(request.form.get("expert_id", ""))
    if ActionForm().validate_on_submit() and expert_id is not None:
        need_service.need_for(current_user, need_id)
        if dismissal_service.restore(current_user, need_id, expert_id):
            flash(_("The expert is back in this need's suggestions."), "success")
    return redirect(url_for("coordinator.need_detail", need_id=need_id, _anchor="suggestions"))


@bp.route("/accounts")
@roles_required(*STAFF)
def accounts():
    pending = account_service.users_with_status(AccountStatus.PENDING)
    return render_template("coordinator/accounts.html", pending=pending, action_form=ActionForm())


@bp.route("/accounts/<int:user_id>/<decision>", methods=["POST"])
@roles_required(*STAFF)
def decide_account(user_id: int, decision: str):
    if decision not in ("approve", "reject"):
        abort(404)
    if ActionForm().validate_on_submit():
        status = AccountStatus.ACTIVE if decision == "approve" else AccountStatus.DISABLED
        user = account_service.set_account_status(current_user, user_id, status)
        flash(_("%(name)s: %(status)s", name=user.name, status=_("approved") if decision == "approve" else _("rejected")), "success")
    return redirect(url_for("coordinator.accounts"))
