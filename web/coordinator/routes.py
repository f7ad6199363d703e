"""Coordinator journey: the review queue of open needs."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from models import NeedStatus, Role

from ..access import roles_required
from ..services import needs as need_service
from . import bp


@bp.route("/queue")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def queue():
    items = need_service.needs_for(current_user, status=NeedStatus.OPEN)
    return render_template("coordinator/queue.html", needs=items)


@bp.route("/needs/<int:need_id>")
@roles_required(Role.COORDINATOR, Role.ADMIN)
def need_detail(need_id: int):
    need = need_service.need_for(current_user, need_id)
    return render_template("coordinator/need_detail.html", need=need)
