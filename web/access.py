"""Deny by default: every endpoint must declare who may call it.

A view is decorated with :func:`public`, :func:`authenticated` or :func:`roles_required`.
The app-wide guard (:func:`enforce_access`) refuses any endpoint without a declaration, so a
route added without thinking about access is closed, not open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import abort, current_app, g, redirect, request, url_for
from flask_login import current_user

from models import Role

security_log = logging.getLogger("matcher.security")

ACCESS_ATTR = "_access_rule"

# Role groups, named once: every view, service and API resource uses these.
STAFF: tuple[Role, ...] = (Role.COORDINATOR, Role.ADMIN)
PARTIES: tuple[Role, ...] = (Role.ENTERPRISE, Role.EXPERT)


def is_staff(user) -> bool:
    """Coordinators and administrators: they see every need, expert and match."""
    return getattr(user, "role", None) in STAFF


def _mark(rule: tuple[str, frozenset[Role]]) -> Callable:
    def decorator(view: Callable) -> Callable:
        setattr(view, ACCESS_ATTR, rule)
        return view

    return decorator


def public(view: Callable) -> Callable:
    """Anyone, signed in or not."""
    return _mark(("public", frozenset()))(view)


def authenticated(view: Callable) -> Callable:
    """Any active account."""
    return _mark(("roles", frozenset(Role)))(view)


def roles_required(*roles: Role) -> Callable:
    """Only active accounts with one of ``roles``."""
    if not roles:
        raise ValueError("roles_required needs at least one role")
    return _mark(("roles", frozenset(roles)))


def no_session_needed(view: Callable) -> Callable:
    """A state-changing endpoint that never acts on a cookie session (e.g. exchanging a
    password for a bearer token), so a forged cross-site request gains nothing: no CSRF token."""
    view._csrf_exempt = True
    return view


def access_rule(endpoint: str | None) -> tuple[str, frozenset[Role]] | None:
    if endpoint is None:
        return None
    view = current_app.view_functions.get(endpoint)
    if endpoint == "static":
        return ("public", frozenset())
    return getattr(view, ACCESS_ATTR, None)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def deny(status: int, reason: str):
    user_id = getattr(current_user, "id", None) if current_user.is_authenticated else None
    security_log.warning(
        "access_denied status=%s endpoint=%s path=%s user=%s reason=%s",
        status,
        request.endpoint,
        request.path,
        user_id,
        reason,
    )
    if status == 401 and not wants_json():
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(status)


def enforce_access():
    """``before_request`` hook: 404 for unknown URLs, then the endpoint's declared rule."""
    if request.endpoint is None:
        return None  # Werkzeug answers 404/405 itself
    rule = access_rule(request.endpoint)
    if rule is None:
        return deny(403, "endpoint without access rule")
    kind, roles = rule
    if kind == "public":
        return None
    if not current_user.is_authenticated:
        return deny(401, "not signed in")
    if current_user.role not in roles:
        return deny(403, f"role {current_user.role.value} not allowed")
    g.actor = current_user._get_current_object()
    return None


def role_home(role: Role) -> str:
    return {
        Role.ENTERPRISE: "enterprise.needs",
        Role.EXPERT: "expert.profile",
        Role.COORDINATOR: "coordinator.queue",
        Role.ADMIN: "coordinator.queue",
    }[role]
