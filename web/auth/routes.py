"""Sign in and out."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from models import Role

from ..access import authenticated, public, role_home
from ..domain import accounts
from ..domain.errors import ValidationError
from ..extensions import limiter
from . import bp, throttle
from .forms import LoginForm, LogoutForm, PasswordForm, SignupForm


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths; anything with a scheme, host, backslash, control or
    separator character (CR/LF would split the ``Location`` header) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if len(target) > 2000 or any(unicodedata.category(char)[0] in "CZ" for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(role_home(current_user.role)))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            throttle.check(throttle.SIGN_IN, form.email.data)
        except throttle.Throttled as exc:
            flash(_("Too many failed sign-ins for this account. Try again in %(minutes)s minute(s).",
                    minutes=(exc.retry_after + 59) // 60), "error")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(exc.retry_after)}
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except accounts.AccountNotActive as exc:  # right password: say why the account may not sign in
            user = None
            flash(exc.localized(), "error")
        else:
            if user is None:
                throttle.failed(throttle.SIGN_IN, form.email.data)
                flash(_("Wrong e-mail or password, or the account is not active yet."), "error")
        if user is not None:
            lang = session.get("lang")
            session.clear()  # a fresh session at every login (no fixation)
            if lang:
                session["lang"] = lang
            login_user(user)
            return redirect(safe_next(form.next.data) or url_for(role_home(user.role)))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@authenticated
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        accounts.end_all_sessions(user)
        logout_user()
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        flash(_("You are signed out."), "info")
    return redirect(url_for("main.index"))


@bp.route("/signup", methods=["GET", "POST"])
@public
@limiter.limit("5 per minute; 30 per hour", methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for(role_home(current_user.role)))
    form = SignupForm()
    if request.method == "GET" and request.args.get("role") in ("enterprise", "expert"):  # from the home page's buttons
        form.role.data = request.args["role"]
    if form.validate_on_submit():
        try:
            accounts.sign_up(role=Role(form.role.data), email=form.email.data, password=form.password.data,
                             name=form.name.data, organization_name=form.organization.data, phone=form.phone.data)
        except ValidationError as exc:
            from ..forms import apply_errors

            apply_errors(form, exc, {"organization": "organization", "email": "email", "password": "password", "name": "name"})
        else:
            flash(_("Thank you. A coordinator will review your account; you can sign in once it is approved."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/signup.html", form=form)


@bp.route("/password", methods=["GET", "POST"])
@authenticated
def change_password():
    """Changing the password ends every other session and API token of the account."""
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            throttle.check(throttle.PASSWORD_CHECK, user.id)
        except throttle.Throttled as exc:
            flash(_("Too many wrong current passwords. Try again in %(minutes)s minute(s).",
                    minutes=(exc.retry_after + 59) // 60), "error")
            return render_template("auth/password.html", form=form), 429, {"Retry-After": str(exc.retry_after)}
        try:
            accounts.change_password(user, form.current_password.data, form.new_password.data)
        except ValidationError as exc:
            from ..forms import apply_errors

            if "current_password" in exc.fields:
                throttle.failed(throttle.PASSWORD_CHECK, user.id)
            apply_errors(form, exc)
        else:
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            login_user(user)  # this browser stays signed in with the new session version
            flash(_("Password changed. Other sessions were signed out."), "success")
            return redirect(url_for(role_home(user.role)))
    return render_template("auth/password.html", form=form)
