"""Landing page, language switch and health check."""

from __future__ import annotations

from flask import current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user

from ..access import authenticated, public, role_home
from . import bp


@bp.route("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(url_for(role_home(current_user.role)))
    return render_template("main/index.html")


@bp.route("/home")
@authenticated
def home():
    return redirect(url_for(role_home(current_user.role)))


@bp.route("/lang/<code>", methods=["POST"])
@public
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    target = request.form.get("next", "")
    from ..auth.routes import safe_next

    return redirect(safe_next(target) or url_for("main.index"))


@bp.route("/healthz")
@public
def healthz():
    from ..infra.health import health_report

    report = health_report()
    # 503 only when the database is unreachable: without an index the pages still work.
    return jsonify(report), (503 if report["status"] == "error" else 200)


@bp.route("/notifications")
@authenticated
def notifications():
    from ..domain.notify import about_notification, message, notifications_for
    from ..forms import ActionForm

    items = notifications_for(current_user)
    from ..domain.coordinator_news import need_titles

    return render_template("main/notifications.html", items=items, message=message, action_form=ActionForm(),
                           need_titles=need_titles(current_user, items),
                           about=lambda n: about_notification(n, current_user))


@bp.route("/notifications/read", methods=["POST"])
@authenticated
def notifications_read():
    from ..domain.notify import mark_all_read

    mark_all_read(current_user)
    return redirect(url_for("main.notifications"))
