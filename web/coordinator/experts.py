"""A coordinator's view of one expert: profile, achievements and matches."""

from __future__ import annotations

from flask import render_template
from flask_babel import get_locale
from flask_login import current_user

from matcher.taxonomy import load_taxonomy

from ..access import STAFF, roles_required
from ..domain import experts as expert_service
from ..domain import queue as queue_service
from . import bp


@bp.route("/experts/<int:expert_id>")
@roles_required(*STAFF)
def expert_detail(expert_id: int):
    profile = expert_service.expert_for(current_user, expert_id)
    taxonomy, locale = load_taxonomy(), str(get_locale())
    disciplines = [f"{code} {taxonomy.disciplines[code].name(locale)}" if code in taxonomy.disciplines else code
                   for code in profile.discipline_codes or []]
    return render_template("coordinator/expert.html", expert=profile, disciplines=disciplines,
                           matches=queue_service.expert_matches(current_user, expert_id))
