"""Request hooks: who is calling (session or bearer token), CSRF, access rules, headers."""

from __future__ import annotations

from flask import Flask, g, request, session
from flask_babel import get_locale
from flask_login import current_user

from models import CooperationMode, Role

from . import labels
from .access import enforce_access
from .extensions import csrf, login_manager

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def load_bearer_user(req):
    """Flask-Login request loader: ``Authorization: Bearer <token>`` (API clients)."""
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    from .infra.tokens import user_for_token

    user = user_for_token(header[len("Bearer ") :].strip())
    g.token_auth = user is not None
    return user


def authenticate_request():
    """Resolve the caller (session cookie or bearer token) before the access check."""
    g.token_auth = False
    _ = current_user.is_authenticated  # runs the session or bearer loader


def check_csrf():
    """Cookie-authenticated state changes must carry a CSRF token; bearer-token calls cannot
    be forged by a browser, so they need none."""
    from flask import current_app

    if request.method not in STATE_CHANGING or g.token_auth or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, "_csrf_exempt", False):
        return
    csrf.protect()


def security_headers(response):
    csp = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers.setdefault("Content-Security-Policy", csp)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    from flask import current_app

    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if getattr(g, "token_auth", False):
        # Token clients never get a session cookie.
        session.modified = False
    if _private(response):
        # Signed-in pages, API answers and exports carry contact details: no browser or proxy keeps them.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


def _private(response) -> bool:
    if request.endpoint == "static" or request.endpoint == "api.openapi":
        return False
    if request.path.startswith("/api/") or response.headers.get("Content-Disposition", "").startswith("attachment"):
        return True
    return bool(getattr(current_user, "is_authenticated", False))


class TrustedHostGuard:
    """WSGI middleware: a request whose Host is not in ``TRUSTED_HOSTS`` gets a plain 400 before
    Flask sees it, so no page, link or redirect is ever built on a Host the caller chose (Flask's
    own check fails later, while the error page is rendered)."""

    def __init__(self, app: Flask, wsgi_app) -> None:
        self.flask_app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        from werkzeug.exceptions import SecurityError
        from werkzeug.sansio.utils import get_host

        trusted = self.flask_app.config.get("TRUSTED_HOSTS")
        if trusted:
            try:
                get_host(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST"),
                         (environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT", "")), trusted)
            except SecurityError:
                return self._refuse(environ, start_response)
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _refuse(environ, start_response):
        import json
        import logging

        logging.getLogger("matcher.security").warning("untrusted_host path=%s", environ.get("PATH_INFO", "")[:200])
        if environ.get("PATH_INFO", "").startswith("/api/"):
            body = json.dumps({"error": {"code": "bad_request", "message": "the Host header names no site served here"}})
            content_type = "application/json"
        else:
            body, content_type = "400 Bad Request: the Host header names no site served here.", "text/plain; charset=utf-8"
        data = body.encode()
        start_response("400 BAD REQUEST", [("Content-Type", content_type), ("Content-Length", str(len(data))),
                                           ("Cache-Control", "no-store")])
        return [data]


def template_context():
    return {
        "Role": Role,
        "CooperationMode": CooperationMode,
        "labels": labels,
        "current_locale": str(get_locale()),
        "need_age_days": need_age_days,
        "unread_notifications": _unread(),
    }


def _unread() -> int:
    if not current_user.is_authenticated:
        return 0
    from .domain.notify import unread_count

    return unread_count(current_user)


def need_age_days(need) -> int:
    from models import utcnow

    return max(0, (utcnow() - need.created_at).days)


def init_app(app: Flask) -> None:
    from .domain.accounts import load_session_user

    login_manager.user_loader(load_session_user)
    login_manager.request_loader(load_bearer_user)
    login_manager.session_protection = "basic"

    @login_manager.unauthorized_handler
    def _unauthorized():
        from .access import deny

        return deny(401, "not signed in")

    app.before_request(authenticate_request)
    app.before_request(enforce_access)
    app.before_request(check_csrf)
    app.after_request(security_headers)
    app.context_processor(template_context)
