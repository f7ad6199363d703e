"""JSON API v1. Thin: parse, call the same services as the HTML views, serialise."""

from __future__ import annotations

import re

from flask import current_app, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from matcher.text import has_lone_surrogates
from models import Role

from ..access import STAFF, authenticated, is_staff, no_session_needed, public, roles_required
from ..auth import throttle
from ..domain import accounts, interests, matches, needs
from ..domain import experts as expert_service
from ..domain.errors import NotFound, ValidationError
from ..domain.presenters import (
    expert_view,
    interest_view,
    match_view,
    may_see_expert_contacts,
    need_progress_view,
    need_view,
    recommended_need_view,
)
from ..domain.validation import MAX_ID, parse_id
from ..extensions import limiter
from ..infra.tokens import issue_token
from . import bp
from .openapi import document


def body() -> dict:
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # absurdly deep nesting
        data = None
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object", fields={"body": "must be a JSON object"})
    problem = "contains lone surrogates (\\ud800-\\udfff), which are not text"
    bad = {}
    for key, value in data.items():
        if has_lone_surrogates(key):
            bad["body"] = problem
        elif has_lone_surrogates(value):
            bad[key] = problem
    if bad:
        raise ValidationError(f"invalid text in {', '.join(sorted(bad))}", fields=bad)
    return data


def int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not minimum <= int(raw) <= maximum:
        raise ValidationError(f"{name} must be a whole number between {minimum} and {maximum}",
                              fields={name: f"must be between {minimum} and {maximum}"})
    return int(raw)


@bp.route("/openapi.json")
@public
def openapi():
    return jsonify(document())


@bp.route("/auth/login", methods=["POST"])
@public
@no_session_needed
@limiter.limit("10 per minute; 50 per hour")
def login():
    data = body()
    email, password = data.get("email"), data.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise ValidationError("email and password must be strings", fields={"email": "required", "password": "required"})
    try:
        throttle.check(throttle.SIGN_IN, email)
    except throttle.Throttled as exc:
        return jsonify({"error": {"code": "too_many_requests", "message": "too many failed sign-ins for this account; "
                                  f"retry after {exc.retry_after} seconds"}}), 429, {"Retry-After": str(exc.retry_after)}
    try:
        user = accounts.authenticate(email, password)
    except accounts.AccountNotActive as exc:  # only after a correct password
        return jsonify({"error": {"code": exc.code, "message": str(exc.message)}}), 403
    if user is None:
        throttle.failed(throttle.SIGN_IN, email)
        return jsonify({"error": {"code": "unauthorized", "message": "wrong e-mail or password, or the account is not active"}}), 401
    return jsonify({"token": issue_token(user), "role": user.role.value, "user_id": user.id})


@bp.route("/auth/logout", methods=["POST"])
@authenticated
def logout():
    """Revoke the bearer token. As the web's sign-out, this ends every session and token of
    the account (their shared session version moves on); a revoked token answers 401."""
    accounts.end_all_sessions(current_user._get_current_object())
    return "", 204


# -- needs -----------------------------------------------------------------------------------
@bp.route("/needs", methods=["GET"])
@roles_required(Role.ENTERPRISE, *STAFF)
def list_needs():
    status = request.args.get("status")
    from models import NeedStatus

    if status is not None and status not in {s.value for s in NeedStatus}:
        raise ValidationError("status must be one of draft, open, matched, closed", fields={"status": "unknown status"})
    limit = int_arg("limit", 100, 1, 500)
    offset = int_arg("offset", 0, 0, 10_000_000)
    items = needs.needs_for(current_user, status=NeedStatus(status) if status else None, limit=limit, offset=offset)
    return jsonify({"items": [need_view(n, current_user) for n in items]})


@bp.route("/needs", methods=["POST"])
@roles_required(Role.ENTERPRISE)
def create_need():
    need = needs.create_need(current_user, body())
    return jsonify(need_view(need, current_user)), 201


@bp.route("/needs/<int:need_id>", methods=["GET"])
@authenticated
def get_need(need_id: int):
    need = needs.need_for(current_user, need_id)
    revealed = current_user.role == Role.EXPERT and any(
        m.need_id == need_id and matches.contacts_visible(m) for m in matches.matches_for(current_user, need_id=need_id))
    data = need_view(need, current_user, reveal_enterprise=revealed)
    if is_staff(current_user) or current_user.role == Role.ENTERPRISE:  # need_for: its own enterprise only
        data["progress"] = need_progress_view(needs.need_progress(need))
    return jsonify(data)


@bp.route("/needs/<int:need_id>", methods=["PATCH"])
@roles_required(Role.ENTERPRISE)
def update_need(need_id: int):
    return jsonify(need_view(needs.update_need(current_user, need_id, body()), current_user))


@bp.route("/needs/<int:need_id>/suggestions", methods=["GET"])
@roles_required(*STAFF)
def suggestions(need_id: int):
    from ..domain.dismissals import dismissed_for
    from ..matching.search import IndexNotReady, has_strong_match, suggest

    limit = int_arg("limit", 20, 1, 100)
    raw = request.args.get("include_dismissed", "")
    if raw not in ("", "0", "1", "true", "false"):
        raise ValidationError("include_dismissed must be true or false",
                              fields={"include_dismissed": "must be true or false (1 or 0)"})
    include_dismissed = raw in ("1", "true")
    needs.need_for(current_user, need_id)
    dismissed = dismissed_for(need_id)  # hidden as on the need's page, unless asked for
    try:
        ranked = suggest(current_user, need_id, limit=limit, hide=frozenset() if include_dismissed else frozenset(dismissed))
    except IndexNotReady as exc:
        return jsonify({"error": {"code": "index_not_ready", "message": str(exc)}}), 503
    return jsonify({"strong_match": has_strong_match(ranked), "items": [
        {"expert_id": item.expert.id, "name": item.expert.name, "score": item.suggestion.score,
         "relevance": item.suggestion.relevance, "band": item.suggestion.band,
         "reasons": item.suggestion.reasons, "evidence": item.suggestion.evidence, "flags": item.suggestion.flags,
         "dismissed": ({"reason": dismissed[item.expert.id].reason_code, "note": dismissed[item.expert.id].note}
                       if item.expert.id in dismissed else None)}
        for item in ranked
    ]})


@bp.route("/needs/<int:need_id>/interest", methods=["POST"])
@roles_required(Role.EXPERT)
def express_interest(need_id: int):
    interest, created = interests.express_interest(current_user, need_id)
    return jsonify(interest_view(interest)), 201 if created else 200


@bp.route("/needs/<int:need_id>/interest", methods=["DELETE"])
@roles_required(Role.EXPERT)
def withdraw_interest(need_id: int):
    interests.withdraw_interest(current_user, need_id)
    return "", 204


# -- experts ---------------------------------------------------------------------------------
@bp.route("/experts/me/recommended-needs", methods=["GET"])
@roles_required(Role.EXPERT)
def recommended_needs():
    from ..matching.discovery import recommended_needs as ranked
    from ..matching.search import IndexNotReady

    limit = int_arg("limit", 20, 1, 100)
    try:
        items = ranked(current_user, limit=limit)
    except IndexNotReady as exc:
        return jsonify({"error": {"code": "index_not_ready", "message": str(exc)}}), 503
    return jsonify({"items": [recommended_need_view(item, current_user) for item in items]})


def _profile_input(data: dict) -> dict:
    fields = dict(data)
    contacts = fields.pop("contacts", None)
    if contacts is not None:
        if not isinstance(contacts, dict):
            raise ValidationError("contacts must be an object with phone, email, wechat", fields={"contacts": "must be an object"})
        unknown = set(contacts) - {"phone", "email", "wechat"}
        if unknown:
            raise ValidationError(f"contacts has unknown keys: {', '.join(sorted(unknown))}", fields={"contacts": "unknown keys"})
        fields.update(contacts)
    unknown = set(fields) - set(expert_service.PROFILE_FIELDS)
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}", fields={k: "unknown field" for k in unknown})
    for key in ("keywords", "research_areas", "discipline_codes", "cooperation_modes"):
        if key in fields and not isinstance(fields[key], list):
            raise ValidationError(f"{key} must be a list", fields={key: "must be a list"})
    return fields


@bp.route("/experts/me", methods=["GET"])
@roles_required(Role.EXPERT)
def my_profile():
    return jsonify(expert_view(expert_service.own_profile(current_user), current_user, with_contacts=True))


@bp.route("/experts/me", methods=["PATCH"])
@roles_required(Role.EXPERT)
def update_my_profile():
    profile = expert_service.update_profile(current_user, _profile_input(body()))
    return jsonify(expert_view(profile, current_user, with_contacts=True))


@bp.route("/experts/me/achievements", methods=["POST"])
@roles_required(Role.EXPERT)
def add_achievement():
    achievement = expert_service.add_achievement(current_user, body())
    return jsonify({"id": achievement.id, "kind": achievement.kind.value, "title": achievement.title,
                    "abstract": achievement.abstract, "year": achievement.year,
                    "authors": achievement.authors, "venue": achievement.venue}), 201


@bp.route("/experts/me/achievements/<int:achievement_id>", methods=["DELETE"])
@roles_required(Role.EXPERT)
def delete_achievement(achievement_id: int):
    expert_service.delete_achievement(current_user, achievement_id)
    return "", 204


@bp.route("/experts/<int:expert_id>", methods=["GET"])
@authenticated
def get_expert(expert_id: int):
    profile = expert_service.expert_for(current_user, expert_id)
    linked = matches.matches_for(current_user) if current_user.role == Role.ENTERPRISE else []
    linked = [m for m in linked if m.expert_id == expert_id]
    return jsonify(expert_view(profile, current_user, with_contacts=may_see_expert_contacts(current_user, profile, linked)))


# -- matches ---------------------------------------------------------------------------------
def _id_field(data: dict, name: str) -> int:
    value = parse_id(data.get(name)) if isinstance(data.get(name), int) else None
    if value is None:
        raise ValidationError(f"{name} must be an id (a whole number from 1 to {MAX_ID})", fields={name: "must be an id"})
    return value


@bp.route("/matches", methods=["GET"])
@authenticated
def list_matches():
    return jsonify({"items": [match_view(m, current_user) for m in matches.matches_for(current_user, limit=int_arg("limit", 200, 1, 500))]})


@bp.route("/matches", methods=["POST"])
@roles_required(*STAFF)
def propose():
    data = body()
    match, created = matches.propose(current_user, _id_field(data, "need_id"), _id_field(data, "expert_id"))
    return jsonify(match_view(match, current_user)), 201 if created else 200


@bp.route("/matches/<int:match_id>", methods=["GET"])
@authenticated
def get_match(match_id: int):
    return jsonify(match_view(matches.match_for(current_user, match_id), current_user))


@bp.route("/matches/<int:match_id>/respond", methods=["POST"])
@roles_required(Role.EXPERT, Role.ENTERPRISE)
def respond(match_id: int):
    data = body()
    accept = data.get("accept")
    if not isinstance(accept, bool):
        raise ValidationError("accept must be true or false", fields={"accept": "must be a boolean"})
    reason, note = data.get("reason", ""), data.get("note", "")
    if not isinstance(reason, str) or not isinstance(note, str):
        raise ValidationError("reason and note must be strings", fields={"reason": "must be a string"})
    match = matches.respond(current_user, match_id, accept, reason=reason, note=note)
    return jsonify(match_view(match, current_user))


def _strings(data: dict, *names: str) -> list[str]:
    values = [data.get(name, "") for name in names]
    bad = {name: "must be a string" for name, value in zip(names, values, strict=True) if not isinstance(value, str)}
    if bad:
        raise ValidationError(f"{', '.join(bad)} must be text", fields=bad)
    return values


@bp.route("/matches/<int:match_id>/outcome", methods=["POST"])
@authenticated
def outcome(match_id: int):
    data = body()
    status, note, reason = _strings(data, "status", "note", "reason")
    details = {key: data[key] for key in ("date", "amount") if key in data} if status != "closed" else None
    match = matches.record_outcome(current_user, match_id, status, note=note, reason=reason, details=details)
    return jsonify(match_view(match, current_user))


@bp.route("/matches/<int:match_id>/confirmation", methods=["POST"])
@authenticated
def confirmation(match_id: int):
    """The other side (or a coordinator) confirms or rejects a recorded contract or completion."""
    data = body()
    status, note, reason = _strings(data, "status", "note", "reason")
    confirm = data.get("confirm")
    if not isinstance(confirm, bool):
        raise ValidationError("confirm must be true or false", fields={"confirm": "must be a boolean"})
    match = matches.decide_outcome(current_user, match_id, status, confirm, reason=reason, note=note)
    return jsonify(match_view(match, current_user))


# -- stats -----------------------------------------------------------------------------------
@bp.route("/stats", methods=["GET"])
@roles_required(*STAFF)
def stats():
    from ..domain import stats as stats_service

    start, end = stats_service.parse_period(request.args.get("from"), request.args.get("to"))
    return jsonify({"summary": stats_service.summary(), "funnel": stats_service.funnel(start, end)})


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@public
def not_found(unknown: str):
    """No endpoint here: 405 with ``Allow`` when the path exists for other methods, else 404."""
    adapter = current_app.url_map.bind("localhost")
    allowed = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _args = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != request.endpoint:
            allowed.add(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed))
    raise NotFound(f"no API endpoint /api/v1/{unknown}")
