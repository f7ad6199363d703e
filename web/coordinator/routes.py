"""Coordinator journey: review queue, suggestions with reasons, proposals, account approval."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models import AccountStatus, NeedStatus

from ..access import STAFF, roles_required
from ..domain import accounts as account_service
from ..domain import interests as interest_service
from ..domain import matches as match_service
from ..domain import needs as need_service
from ..domain.errors import DomainError
from ..domain.validation import parse_id
from ..forms import ActionForm
from ..matching.search import IndexNotReady, has_strong_match, pair_scores, suggest
from . import bp


@bp.route("/queue")
@roles_required(*STAFF)
def queue():
    items = need_service.needs_for(current_user, status=NeedStatus.OPEN)
    return render_template("coordinator/queue.html", needs=items, proposed=match_service.counts_by_need([n.id for n in items]))


@bp.route("/needs/<int:need_id>")
@roles_required(*STAFF)
def need_detail(need_id: int):
    need = need_service.need_for(current_user, need_id)
    error = None
    suggestions = []
    try:
        suggestions = suggest(current_user, need_id, limit=20, include_excluded=True)
    except IndexNotReady as exc:
        error = str(exc)
    existing = {m.expert_id: m for m in match_service.matches_for(current_user, need_id=need_id)}
    return render_template("coordinator/need_detail.html", need=need, suggestions=suggestions, index_error=error,
                           existing=existing, action_form=ActionForm(), strong_match=has_strong_match(suggestions),
                           interests=interest_service.interests_in(current_user, need_id))


@bp.route("/needs/<int:need_id>/propose", methods=["POST"])
@roles_required(*STAFF)
def propose(need_id: int):
    if not ActionForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("coordinator.need_detail", need_id=need_id))
    chosen = [str(i) for i in (parse_id(v) for v in request.form.getlist("expert_id")) if i is not None]
    if not chosen:
        flash(_("Choose at least one expert."), "error")
        return redirect(url_for("coordinator.need_detail", need_id=need_id))
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
    return redirect(url_for("coordinator.need_detail", need_id=need_id))


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
