"""Extensions created without an app and bound in the factory (``init_app``)."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def select_locale() -> str:
    """Chinese by default; the user's choice (cookie or account) or ``?lang=`` switches it."""
    from flask import current_app, session
    from flask_login import current_user

    supported = current_app.config["LANGUAGES"]
    wanted = request.args.get("lang") or session.get("lang")
    if not wanted and getattr(current_user, "is_authenticated", False):
        wanted = getattr(current_user, "locale", None)
    return wanted if wanted in supported else current_app.config["BABEL_DEFAULT_LOCALE"]
