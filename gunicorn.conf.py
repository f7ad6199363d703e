"""gunicorn settings: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Embedded default (``MATCHER_INDEXER=thread``, SQLite): one worker process with threads, and
the indexer as a thread of that worker. Production (``MATCHER_INDEXER=process``, PostgreSQL):
workers from the CPU count; run ``flask --app wsgi matcher indexer`` as its own process.
"""

import multiprocessing
import os

_mode = os.environ.get("MATCHER_INDEXER") or ("process" if os.environ.get("MATCHER_ENV") == "production" else "thread")

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
workers = 1 if _mode == "thread" else int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
timeout = 120
graceful_timeout = 20
accesslog = "-"
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(M)sms'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


# Production loads the app once in the master (shared memory for libraries and the model's
# code); every worker then drops the connections it inherited (post_fork below).
preload_app = _mode == "process"


def post_fork(server, worker):
    """Database connections must not be shared across fork: each worker opens its own."""
    if not preload_app:
        return
    from models import db

    app = worker.app.wsgi()
    with app.app_context():
        db.engine.dispose(close=False)


def post_worker_init(worker):
    app = worker.wsgi
    if app.config.get("INDEXER_MODE") == "thread":
        from web.infra.mail import start_mail_thread
        from web.matching.indexing import start_indexer_thread

        start_indexer_thread(app)
        start_mail_thread(app)
    from web.matching.search import warm_up

    warm_up(app)
