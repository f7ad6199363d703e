"""Enterprise journey: post, edit and follow needs."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from models import Role

from ..access import roles_required
from ..domain import needs as need_service
from ..domain.errors import Conflict, ValidationError
from ..forms import ActionForm, apply_errors, cooperation_mode_choices, industry_choices
from . import bp
from .forms import NeedForm


def _need_form(**kwargs) -> NeedForm:
    form = NeedForm(**kwargs)
    form.industry_codes.choices = industry_choices(str(get_locale()))
    form.cooperation_modes.choices = cooperation_mode_choices()
    return form


@bp.route("/needs")
@roles_required(Role.ENTERPRISE)
def needs():
    items = need_service.needs_for(current_user)
    return render_template("enterprise/needs.html", needs=items)


@bp.route("/needs/new", methods=["GET", "POST"])
@roles_required(Role.ENTERPRISE)
def new_need():
    form = _need_form()
    if form.validate_on_submit():
        try:
            need = need_service.create_need(current_user, form.values())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Your need is posted. A coordinator will look for experts."), "success")
            return redirect(url_for("enterprise.need_detail", need_id=need.id))
    return render_template("enterprise/need_form.html", form=form, need=None)


@bp.route("/needs/<int:need_id>")
@roles_required(Role.ENTERPRISE)
def need_detail(need_id: int):
    need = need_service.need_for(current_user, need_id)
    return render_template("enterprise/need_detail.html", need=need, progress=need_service.need_progress(need),
                           action_form=ActionForm())


@bp.route("/needs/<int:need_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ENTERPRISE)
def edit_need(need_id: int):
    need = need_service.need_for(current_user, need_id)
    progress = need_service.need_progress(need)
    if progress.locked:
        flash(_("This need has a signed contract: it can no longer be edited or withdrawn. Ask the coordinator if something changed."), "error")
        return redirect(url_for("enterprise.need_detail", need_id=need_id))
    form = _need_form(obj=need)
    if form.validate_on_submit():
        try:
            need_service.update_need(current_user, need_id, form.values())
        except ValidationError as exc:
            apply_errors(form, exc)
        except Conflict as exc:
            flash(exc.localized(), "error")
            return redirect(url_for("enterprise.need_detail", need_id=need_id))
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("enterprise.need_detail", need_id=need_id))
    return render_template("enterprise/need_form.html", form=form, need=need, progress=progress)


@bp.route("/needs/<int:need_id>/withdraw", methods=["POST"])
@roles_required(Role.ENTERPRISE)
def withdraw_need(need_id: int):
    if ActionForm().validate_on_submit():
        try:
            need_service.withdraw_need(current_user, need_id)
        except Conflict as exc:
            flash(exc.localized(), "error")
        else:
            flash(_("The need is withdrawn."), "info")
    return redirect(url_for("enterprise.need_detail", need_id=need_id))
