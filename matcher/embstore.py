"""The embedding store: every text is embedded once per (channel fingerprint, role, text).

Vectors are keyed by the key space ``<fingerprint>:<role>`` and the SHA-256 of the exact text
the encoder receives (before its prefix), stored as float16 (cosine error below 1e-3), either
in the system-of-record database (table ``embedding_vectors``, a binary column, SQLite and
PostgreSQL alike: what embedding workers on several machines share) or in a SQLite file of
its own (stdlib ``sqlite3``, WAL; single machine, the test session). Rebuilds, restarts, quarantine recovery
and reindexing with an unchanged model therefore embed nothing twice; a changed text gets a
new key and is embedded once. A model change is a new fingerprint, hence a new key space: the
old one keeps serving the old index until the new one is complete.

Read-only *seed* files (``.npz`` with ``keys`` and float16 ``vecs``, keys ``<space>|<hash>``)
may back the store: the repository ships the vectors of its own demo texts, so a first
``make run`` does not spend minutes embedding them.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import numpy as np
import sqlalchemy as sa

STORAGE = np.float16
SEED_DIR = Path(__file__).resolve().parent.parent / "data" / "embeddings"


def shipped_seeds() -> list[Path]:
    """The vectors of the repository's own demo texts, one file per channel."""
    return sorted(SEED_DIR.glob("*.npz"))


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class VectorRows(Protocol):
    """Where the vectors live: ``rows`` are (key, dim, float16 bytes)."""

    def get(self, space: str, keys: list[str]) -> list[tuple[str, int, bytes]]: ...
    def put(self, space: str, rows: list[tuple[str, int, bytes]]) -> None: ...
    def count(self, space: str | None) -> int: ...
    def drop_except(self, keep: list[str]) -> int: ...


class FileRows:
    """A SQLite file of its own (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (space TEXT NOT NULL, key TEXT NOT NULL, "
                         "dim INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (space, key)) WITHOUT ROWID")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def get(self, space, keys):
        out = []
        with self._connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                out += conn.execute(
                    f"SELECT key, dim, vec FROM vectors WHERE space = ? AND key IN ({','.join('?' * len(chunk))})",
                    [space, *chunk]).fetchall()
        return out

    def put(self, space, rows):
        with self._lock, self._connect() as conn:
            conn.executemany("INSERT OR IGNORE INTO vectors (space, key, dim, vec) VALUES (?, ?, ?, ?)",
                             [(space, *row) for row in rows])

    def count(self, space):
        with self._connect() as conn:
            if space is None:
                return int(conn.execute("SELECT count(*) FROM vectors").fetchone()[0])
            return int(conn.execute("SELECT count(*) FROM vectors WHERE space = ?", (space,)).fetchone()[0])

    def drop_except(self, keep):
        with self._lock, self._connect() as conn:
            cursor = conn.execute(f"DELETE FROM vectors WHERE space NOT IN ({','.join('?' * len(keep))})", keep) if keep \
                else conn.execute("DELETE FROM vectors")
            return cursor.rowcount


VECTORS_TABLE = sa.Table(
    "embedding_vectors", sa.MetaData(),
    sa.Column("space", sa.String(64), primary_key=True), sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("dim", sa.Integer, nullable=False), sa.Column("vec", sa.LargeBinary, nullable=False))


class DatabaseRows:
    """The ``embedding_vectors`` table of the system-of-record database (created by its
    migrations). ``engine`` is called for each operation, so a process that replaces its
    engine (a fork, a test) keeps working. Writes never overwrite: two workers that embed
    the same text store it once."""

    def __init__(self, engine: Callable[[], sa.Engine]) -> None:
        self.engine = engine

    def get(self, space, keys):
        out = []
        t = VECTORS_TABLE
        with self.engine().connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                out += [tuple(r) for r in conn.execute(
                    sa.select(t.c.key, t.c.dim, t.c.vec).where(t.c.space == space, t.c.key.in_(chunk)))]
        return out

    def put(self, space, rows):
        engine = self.engine()
        if engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        values = [{"space": space, "key": k, "dim": d, "vec": v} for k, d, v in rows]
        with engine.begin() as conn:
            for start in range(0, len(values), 1000):
                conn.execute(insert(VECTORS_TABLE).on_conflict_do_nothing(), values[start:start + 1000])

    def count(self, space):
        query = sa.select(sa.func.count()).select_from(VECTORS_TABLE)
        if space is not None:
            query = query.where(VECTORS_TABLE.c.space == space)
        with self.engine().connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def drop_except(self, keep):
        query = sa.delete(VECTORS_TABLE)
        if keep:
            query = query.where(VECTORS_TABLE.c.space.not_in(keep))
        with self.engine().begin() as conn:
            return conn.execute(query).rowcount


class EmbeddingStore:
    def __init__(self, path: str | Path | VectorRows | None, seeds: Iterable[Path] = ()) -> None:
        """``path``: a SQLite file, a :class:`VectorRows` (e.g. :class:`DatabaseRows`), or None
        to keep vectors in memory only (the batch CLI, tests of one engine)."""
        if path is None or path == "":
            self.rows: VectorRows | None = None
        elif isinstance(path, (str, Path)):
            self.rows = FileRows(Path(path))
        else:
            self.rows = path
        self.path = self.rows.path if isinstance(self.rows, FileRows) else None
        self._memory: dict[tuple[str, str], np.ndarray] = {}
        self._seed_files = [Path(p) for p in seeds]
        self._seeds: dict[str, dict[str, np.ndarray]] | None = None
        self.encoded = 0  # texts this process sent to an encoder through the store

    @property
    def kind(self) -> str:
        return "memory" if self.rows is None else ("file" if self.path else "database")

    def _seed_space(self, space: str) -> dict[str, np.ndarray]:
        if self._seeds is None:
            self._seeds = {}
            for file in self._seed_files:
                if not file.exists():
                    continue
                data = np.load(file)
                for full, vec in zip(data["keys"].tolist(), data["vecs"], strict=True):
                    seed_space, _, key = full.partition("|")
                    self._seeds.setdefault(seed_space, {})[key] = vec
        return self._seeds.get(space, {})

    def get_many(self, space: str, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        seeds = self._seed_space(space)
        for key in keys:
            vec = self._memory.get((space, key))
            if vec is None:
                vec = seeds.get(key)
            if vec is not None:
                found[key] = vec
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing and self.rows is not None:
            for key, dim, blob in self.rows.get(space, missing):
                found[key] = np.frombuffer(blob, dtype=STORAGE).reshape(dim)
        return found

    def put_many(self, space: str, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        if self.rows is None:
            for key, vec in vectors.items():
                self._memory[(space, key)] = np.asarray(vec, dtype=STORAGE)
            return
        self.rows.put(space, [(key, int(vec.shape[-1]), np.asarray(vec, dtype=STORAGE).tobytes())
                              for key, vec in vectors.items()])

    def embed(self, space: str, texts: list[str], encode: Callable[[list[str]], np.ndarray], dim: int) -> np.ndarray:
        """Vectors for ``texts`` (float32, one row each): from the store where present, the
        rest from ``encode`` (each distinct text once) and then stored."""
        keys = [text_key(t) for t in texts]
        found = self.get_many(space, keys)
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if todo:
            encoded = encode(list(todo.values()))
            fresh = dict(zip(todo, encoded, strict=True))
            self.put_many(space, fresh)
            self.encoded += len(todo)
            found.update(fresh)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for row, key in enumerate(keys):
            out[row] = found[key]
        return out

    def count(self, space: str | None = None) -> int:
        if self.rows is None:
            return sum(1 for s, _ in self._memory if space is None or s == space)
        return self.rows.count(space)

    def drop_spaces_except(self, keep: Iterable[str]) -> int:
        """Remove key spaces of models no longer in use; returns the rows removed."""
        if self.rows is None:
            return 0
        return self.rows.drop_except(list(keep))
