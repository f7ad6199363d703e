"""Per-account throttling of password checks, shared by the web sign-in and the API.

Failed attempts are counted per account (the normalised e-mail, hashed: no address is
written to the counter store) in the same storage as the rate limiter (``RATELIMIT_STORAGE_URI``
or ``REDIS_URL``; memory otherwise), so the web form and ``POST /api/v1/auth/login`` draw on
one counter whichever address they come from. Only failures count: an account that signs in
correctly is never slowed down. The current-password check of the password-change page is
throttled the same way, per user.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

security_log = logging.getLogger("matcher.security")

SIGN_IN = "account-login"
PASSWORD_CHECK = "password-check"


@dataclass
class _Throttle:
    strategy: FixedWindowRateLimiter
    limits: dict[str, list[RateLimitItem]]
    prefix: str


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; retry after {retry_after} s")
        self.retry_after = retry_after


def _throttle() -> _Throttle | None:
    app = current_app._get_current_object()
    if not app.config.get("RATELIMIT_ENABLED", True):
        return None
    existing = app.extensions.get("account_throttle")
    if existing is None:
        storage = storage_from_string(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
        existing = _Throttle(FixedWindowRateLimiter(storage),
                             {SIGN_IN: parse_many(app.config["LOGIN_ACCOUNT_LIMITS"]),
                              PASSWORD_CHECK: parse_many(app.config["PASSWORD_CHECK_LIMITS"])},
                             app.config.get("RATELIMIT_KEY_PREFIX") or "matcher")
        app.extensions["account_throttle"] = existing
    return existing


def account_key(email_or_id: object) -> str:
    text = str(email_or_id or "").strip().lower()
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def check(kind: str, subject: object) -> None:
    """Raise Throttled when ``subject`` has used up its failed attempts of ``kind``."""
    throttle = _throttle()
    if throttle is None:
        return
    key = account_key(subject)
    try:
        for item in throttle.limits[kind]:
            if not throttle.strategy.test(item, throttle.prefix, kind, key):
                reset = throttle.strategy.get_window_stats(item, throttle.prefix, kind, key).reset_time
                security_log.warning("account_throttled kind=%s", kind)
                raise Throttled(max(1, int(reset - time.time())))
    except Throttled:
        raise
    except Exception as exc:  # the counter store is down: do not lock everyone out
        security_log.error("account_throttle_unavailable error=%s", type(exc).__name__)


def failed(kind: str, subject: object) -> None:
    throttle = _throttle()
    if throttle is None:
        return
    key = account_key(subject)
    try:
        for item in throttle.limits[kind]:
            throttle.strategy.hit(item, throttle.prefix, kind, key)
    except Exception as exc:
        security_log.error("account_throttle_unavailable error=%s", type(exc).__name__)
