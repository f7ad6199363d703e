"""Bearer tokens for the JSON API: signed, expiring, and void after logout or password change."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from models import User

from ..domain.accounts import load_session_user

SALT = "api-token-v1"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def issue_token(user: User) -> str:
    return _serializer().dumps({"sid": user.get_id()})


def user_for_token(token: str) -> User | None:
    try:
        data = _serializer().loads(token, max_age=current_app.config["API_TOKEN_MAX_AGE"])
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
        return None
    return load_session_user(data["sid"])
