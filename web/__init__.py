"""Flask application factory."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

from models import db

from .config import Config, config_from_environment
from .extensions import babel, csrf, limiter, login_manager, migrate, select_locale

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseId(IntegerConverter):
    """``<int:...>`` in URLs: only values a database id can take (1 .. 2**31-1), so a huge
    number in a URL is a plain 404 instead of an overflow deep in the database driver. The
    regex, not just ``max``, refuses them: a URL that fails the regex matches no rule at all,
    where one that fails ``max`` would look like a wrong method (405)."""

    regex = r"[1-9][0-9]{0,8}"

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: Config | dict | None = None) -> Flask:
    """Build the app. ``config`` is a Config instance, or a dict of overrides on top of the
    environment's configuration (tests pass ``{"TESTING": True, ...}``)."""
    app = Flask(__name__, instance_relative_config=False)
    app.url_map.converters["int"] = DatabaseId
    if isinstance(config, Config):
        cfg = config
    else:
        cfg = config_from_environment()
    cfg.validate()
    app.config.from_object(cfg)
    if isinstance(config, dict):
        app.config.update(config)
    app.instance_path = app.config["INSTANCE_DIR"]
    app.config["INDEX_DIR"] = app.config.get("INDEX_DIR") or str(Path(app.instance_path) / "index")
    secure_instance(app.instance_path, app.config["SQLALCHEMY_DATABASE_URI"])
    # CSRF is checked by our own guard so that bearer-token API calls can skip it.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False

    _configure_logging(app)
    from .hooks import TrustedHostGuard

    app.wsgi_app = TrustedHostGuard(app, app.wsgi_app)  # inside ProxyFix: sees the forwarded host
    if app.config.get("PROXY_COUNT"):
        # Behind N trusted proxies: the real client address (rate limits, logs) and scheme.
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.config["RATELIMIT_ENABLED"] = app.config.get("RATELIMIT_ENABLED", True)
    limiter.init_app(app)

    from . import auth, errors, hooks, main, templating

    hooks.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)

    from . import coordinator, dashboard, enterprise, expert, matches, transfer

    app.register_blueprint(enterprise.bp)
    app.register_blueprint(expert.bp)
    app.register_blueprint(coordinator.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(transfer.bp)
    app.register_blueprint(matches.bp)

    from . import api

    app.register_blueprint(api.bp)

    from .cli import register_cli

    register_cli(app)
    return app


def _restrict(path: Path, mode: int) -> None:
    try:
        if path.stat().st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except OSError as exc:  # not ours to change (a shared mount): say so, keep running
        logging.getLogger("matcher.security").warning("instance_mode_unchanged path=%s error=%s", path.name, exc)


def secure_instance(instance_path: str, database_uri: str) -> None:
    """The instance folder holds password hashes and every contact: 0700 for the folder,
    0600 for the SQLite file (SQLite gives its -wal and -shm files the same mode)."""
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _restrict(folder, 0o700)
    if not database_uri.startswith("sqlite:///"):
        return
    from sqlalchemy.engine import make_url

    database = make_url(database_uri).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            _restrict(file, 0o600)


class UTCFormatter(logging.Formatter):
    """ISO-8601 UTC timestamps (``2026-11-23T10:15:02.123Z``) on every line."""

    converter = time.gmtime

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's API
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + f".{int(record.msecs):03d}Z"


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _configure_logging(app: Flask) -> None:
    if app.config.get("TESTING"):
        return
    root = logging.getLogger()
    if not any(isinstance(h.formatter, UTCFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(UTCFormatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("faiss.loader", "bm25s", "sentence_transformers", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
