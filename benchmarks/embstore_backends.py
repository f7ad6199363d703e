"""Where the embedding store lives: the same vectors written and read through each backend.

    python -m benchmarks.embstore_backends --vectors 20000 --json

Writes ``--vectors`` random unit vectors (384 dimensions, float16) in batches of 500 — as
backfill workers do — and reads them all back by key in batches of 2,000 — as a rebuild does —
through (a) a SQLite file of its own, (b) the ``embedding_vectors`` table of a migrated SQLite
system-of-record database, (c) the same table on the local PostgreSQL (a scratch database,
dropped afterwards). Prints vectors per second for each. Never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from matcher.embstore import DatabaseRows, EmbeddingStore

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def migrated(url: str, instance: Path) -> sa.Engine:
    os.environ["MATCHER_ENV"] = "testing"
    from flask_migrate import upgrade

    from web import create_app

    app = create_app({"TESTING": True, "INSTANCE_DIR": str(instance), "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        from models import db

        db.engine.dispose()
    return sa.create_engine(url)


def measure(store: EmbeddingStore, vectors: np.ndarray) -> dict:
    keys = [uuid.uuid4().hex for _ in range(len(vectors))]
    started = time.perf_counter()
    for start in range(0, len(keys), 500):
        store.put_many("bench:passage", dict(zip(keys[start:start + 500], vectors[start:start + 500], strict=True)))
    write = time.perf_counter() - started
    started = time.perf_counter()
    found = 0
    for start in range(0, len(keys), 2000):
        found += len(store.get_many("bench:passage", keys[start:start + 2000]))
    read = time.perf_counter() - started
    return {"write_per_s": round(len(keys) / write), "read_per_s": round(len(keys) / read), "found": found}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=int, default=20000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.vectors, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    report: dict = {"vectors": args.vectors, "load_average": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="bench-embstore-") as directory:
        tmp = Path(directory)
        report["sqlite_file"] = measure(EmbeddingStore(tmp / "embeddings.sqlite"), vectors)
        engine = migrated(f"sqlite:///{tmp / 'matcher.db'}", tmp)
        report["database_sqlite"] = measure(EmbeddingStore(DatabaseRows(lambda: engine)), vectors)
        engine.dispose()
        admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        name = f"bench_embstore_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            engine = migrated(sa.engine.make_url(POSTGRES).set(database=name).render_as_string(hide_password=False), tmp)
            report["database_postgresql"] = measure(EmbeddingStore(DatabaseRows(lambda: engine)), vectors)
            engine.dispose()
        except sa.exc.OperationalError as exc:
            report["database_postgresql"] = f"not measured: {type(exc).__name__}"
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
