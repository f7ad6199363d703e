"""Expert journey: keep the profile and achievements up to date."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from models import Role

from ..access import roles_required
from ..domain import experts as expert_service
from ..domain import interests as interest_service
from ..domain.errors import DomainError, ValidationError
from ..forms import ActionForm, apply_errors, cooperation_mode_choices, discipline_choices
from ..labels import ACHIEVEMENT_KIND
from . import bp
from .forms import AchievementForm, ProfileForm


def _achievement_form(**kwargs) -> AchievementForm:
    form = AchievementForm(**kwargs)
    form.kind.choices = [SelectChoice(kind.value, str(name)) for kind, name in ACHIEVEMENT_KIND.items()]
    return form


@bp.route("/profile", methods=["GET", "POST"])
@roles_required(Role.EXPERT)
def profile():
    profile = expert_service.own_profile(current_user)
    form = ProfileForm(obj=profile)
    if request.method == "GET":  # lists are edited as comma-separated text
        form.research_areas.data = ", ".join(profile.research_areas or [])
        form.keywords.data = ", ".join(profile.keywords or [])
    form.discipline_codes.choices = discipline_choices(str(get_locale()))
    form.cooperation_modes.choices = cooperation_mode_choices()
    if form.validate_on_submit():
        try:
            expert_service.update_profile(current_user, form.values())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Profile saved. Suggestions will use it within seconds."), "success")
            return redirect(url_for("expert.profile"))
    return render_template(
        "expert/profile.html",
        form=form,
        profile=profile,
        achievement_form=_achievement_form(),
        action_form=ActionForm(),
    )


@bp.route("/achievements", methods=["POST"])
@roles_required(Role.EXPERT)
def add_achievement():
    form = _achievement_form()
    if form.validate_on_submit():
        try:
            expert_service.add_achievement(current_user, form.values())
        except ValidationError as exc:
            flash(exc.localized(), "error")
        else:
            flash(_("Achievement added."), "success")
    else:
        for field, problems in form.errors.items():
            flash(f"{getattr(form, field).label.text}: {problems[0]}", "error")
    return redirect(url_for("expert.profile") + "#achievements")


@bp.route("/achievements/<int:achievement_id>/delete", methods=["POST"])
@roles_required(Role.EXPERT)
def delete_achievement(achievement_id: int):
    if ActionForm().validate_on_submit():
        expert_service.delete_achievement(current_user, achievement_id)
        flash(_("Achievement removed."), "info")
    return redirect(url_for("expert.profile") + "#achievements")


@bp.route("/achievements/bulk", methods=["POST"])
@roles_required(Role.EXPERT)
def add_achievements_bulk():
    if ActionForm().validate_on_submit():
        try:
            created = expert_service.add_achievements_bulk(current_user, request.form.get("publications", ""))
        except ValidationError as exc:
            flash(exc.localized(), "error")
        else:
            flash(_("%(count)s achievement(s) added. Add abstracts to the important ones: they improve matching.", count=len(created)), "success")
    return redirect(url_for("expert.profile") + "#achievements")


# -- discovering needs -------------------------------------------------------------------------
@bp.route("/recommended")
@roles_required(Role.EXPERT)
def recommended():
    from ..matching.discovery import recommended_needs
    from ..matching.search import IndexNotReady

    error, items = None, []
    try:
        items = recommended_needs(current_user, limit=20)
    except IndexNotReady as exc:
        error = str(exc)
    interests = interest_service.my_interests(current_user)
    return render_template("expert/recommended.html", items=items, interests=interests, index_error=error,
                           action_form=ActionForm())


@bp.route("/needs/<int:need_id>/interest", methods=["POST"])
@roles_required(Role.EXPERT)
def express_interest(need_id: int):
    if ActionForm().validate_on_submit():
        try:
            _interest, created = interest_service.express_interest(current_user, need_id)
        except DomainError as exc:
            if exc.status == 404:
                raise
            flash(exc.localized(), "error")
        else:
            if created:
                flash(_("Your interest was recorded. The coordinator sees it on the need and may propose you."), "success")
    return redirect(url_for("expert.recommended") + f"#need-{need_id}")


@bp.route("/needs/<int:need_id>/interest/withdraw", methods=["POST"])
@roles_required(Role.EXPERT)
def withdraw_interest(need_id: int):
    if ActionForm().validate_on_submit() and interest_service.withdraw_interest(current_user, need_id):
        flash(_("Your interest was withdrawn."), "info")
    return redirect(url_for("expert.recommended") + f"#need-{need_id}")
