"""Expert journey: keep the profile and achievements up to date."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from models import Role

from ..access import roles_required
from ..domain import experts as expert_service
from ..domain import interests as interest_service
from ..domain.errors import DomainError, ValidationError, localize
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


@bp.route("/achievements/<int:achievement_id>/edit", methods=["POST"])
@roles_required(Role.EXPERT)
def edit_achievement(achievement_id: int):
    form = _achievement_form()
    if form.validate_on_submit():
        try:
            expert_service.update_achievement(current_user, achievement_id, form.values())
        except ValidationError as exc:
            flash(exc.localized(), "error")
        else:
            flash(_("Achievement saved."), "success")
    else:
        for field, problems in form.errors.items():
            flash(f"{getattr(form, field).label.text}: {problems[0]}", "error")
    return redirect(url_for("expert.profile") + f"#achievement-{achievement_id}")


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
    """Read the pasted lines and show them for checking; nothing is stored here."""
    if not ActionForm().validate_on_submit():
        return redirect(url_for("expert.profile") + "#achievements")
    text = request.form.get("publications", "")
    try:
        rows = expert_service.preview_publication_list(current_user, text)
    except ValidationError as exc:
        flash(exc.localized(), "error")
        return redirect(url_for("expert.profile") + "#achievements")
    reviewed = [dict(row.fields(), line=row.line, text=row.text, style=row.style, doc_type=row.doc_type,
                     problem=row.problem and localize(row.problem), note=row.note and localize(row.note),
                     include=row.read) for row in rows]
    return render_template("expert/achievements_preview.html", rows=reviewed, action_form=ActionForm(), **_preview_labels())


@bp.route("/achievements/bulk/confirm", methods=["POST"])
@roles_required(Role.EXPERT)
def confirm_achievements_bulk():
    """Store the rows kept in the preview, as edited; on any refused row show the preview again."""
    if not ActionForm().validate_on_submit():
        return redirect(url_for("expert.profile") + "#achievements")
    rows = _reviewed_rows(request.form)
    try:
        created = expert_service.add_reviewed_achievements(current_user, rows)
    except ValidationError as exc:
        for row in rows:
            problem = exc.fields.get(f"line-{row['line']}")
            row["problem"] = problem and localize(problem)
        flash(exc.localized(), "error")
        return render_template("expert/achievements_preview.html", rows=rows, action_form=ActionForm(),
                               **_preview_labels()), 400
    flash(_("%(count)s achievement(s) added. Add abstracts to the important ones: they improve matching.",
            count=len(created)), "success")
    return redirect(url_for("expert.profile") + "#achievements")


DOC_TYPES = {
    "journal": _l("Journal article"), "conference": _l("Conference paper"), "book": _l("Book"), "patent": _l("Patent"),
    "thesis": _l("Thesis"), "standard": _l("Standard"), "report": _l("Report"), "newspaper": _l("Newspaper article"),
    "online": _l("Online resource"), "other": _l("Other"),
}
STYLES = {"gbt7714": "GB/T 7714", "apa": "APA", "ieee": "IEEE", "acl": "ACL", "plain": _l("no known style")}


def _preview_labels() -> dict:
    return {"kinds": [(kind.value, str(name)) for kind, name in ACHIEVEMENT_KIND.items()],
            "doc_types": DOC_TYPES, "styles": STYLES, "max_lines": expert_service.MAX_PASTED_LINES}


def _reviewed_rows(form) -> list[dict]:
    """The preview's rows as sent back: ``r<i>-<field>`` for i < ``rows`` (at most the paste limit)."""
    try:
        count = min(int(form.get("rows", "0")), expert_service.MAX_PASTED_LINES)
    except ValueError:
        count = 0
    rows = []
    for i in range(count):
        get = lambda key, i=i: form.get(f"r{i}-{key}", "")  # noqa: E731
        line = get("line")
        rows.append({"line": int(line) if line.isdigit() else i + 1, "text": get("text"), "style": get("style"),
                     "doc_type": get("doc_type"), "include": get("include") == "on", "kind": get("kind"),
                     "title": get("title"), "year": get("year").strip() or None, "authors": get("authors"),
                     "venue": get("venue"), "note": None, "problem": None})
    return rows


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


@bp.route("/needs/<int:need_id>")
@roles_required(Role.EXPERT)
def need(need_id: int):
    """A need the expert may discover (or was proposed for), read-only: no contact of anyone,
    and an anonymous need names no enterprise here (a connected match's page does)."""
    from ..domain import matches as match_service
    from ..domain import needs as need_service

    need = need_service.need_for(current_user, need_id)
    match = next(iter(match_service.matches_for(current_user, need_id=need_id)), None)
    interested = need_id in interest_service.interested_need_ids(expert_service.own_profile(current_user))
    return render_template("expert/need.html", need=need, match=match, interested=interested, action_form=ActionForm())


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
    return redirect(_back(need_id))


@bp.route("/needs/<int:need_id>/interest/withdraw", methods=["POST"])
@roles_required(Role.EXPERT)
def withdraw_interest(need_id: int):
    if ActionForm().validate_on_submit() and interest_service.withdraw_interest(current_user, need_id):
        flash(_("Your interest was withdrawn."), "info")
    return redirect(_back(need_id))


def _back(need_id: int) -> str:
    """Back to the page the form was on: the need's own page, or the recommended list."""
    if request.form.get("back") == "need":
        return url_for("expert.need", need_id=need_id)
    return url_for("expert.recommended") + f"#need-{need_id}"
