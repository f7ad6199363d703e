"""The Celery worker of backfill batches: ``celery -A web.matching.worker worker --pool solo``.

It builds the app from the environment like every other process (``DATABASE_URL``,
``MATCHER_EMBEDDING_STORE``, ``MATCHER_BACKFILL_BROKER``, ``MATCHER_BACKFILL_QUEUE``), embeds
the batches it is given with the model the job names, and writes to the embedding store in
the shared database. It never touches index files: the single index writer publishes.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as wsgi.py: idle OpenMP threads must not spin

from models import db  # noqa: E402
from web import create_app  # noqa: E402
from web.matching.backfill import embed_batch  # noqa: E402
from web.matching.backfill_queue import TASK, celery_app  # noqa: E402

flask_app = create_app()
if not flask_app.config.get("BACKFILL_BROKER_URL"):
    raise RuntimeError("MATCHER_BACKFILL_BROKER is not set: a backfill worker needs the broker, "
                       "e.g. amqp://guest:guest@127.0.0.1:5672//")
celery = celery_app(flask_app.config["BACKFILL_BROKER_URL"], flask_app.config["BACKFILL_QUEUE"])


@celery.task(name=TASK, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def embed_batch_task(batch_id: int) -> int:
    with flask_app.app_context():
        try:
            return embed_batch(batch_id)
        finally:
            db.session.remove()
