"""The embedding store: every text is embedded once per (channel fingerprint, role, text).

Vectors live in a SQLite file (stdlib ``sqlite3``, WAL) keyed by the key space
``<fingerprint>:<role>`` and the SHA-256 of the exact text the encoder receives (before its
prefix), stored as float16 (cosine error below 1e-3). Rebuilds, restarts, quarantine recovery
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

import numpy as np

STORAGE = np.float16
SEED_DIR = Path(__file__).resolve().parent.parent / "data" / "embeddings"


def shipped_seeds() -> list[Path]:
    """The vectors of the repository's own demo texts, one file per channel."""
    return sorted(SEED_DIR.glob("*.npz"))


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingStore:
    def __init__(self, path: str | Path | None, seeds: Iterable[Path] = ()) -> None:
        """``path`` None keeps vectors in memory only (the batch CLI, tests of one engine)."""
        self.path = Path(path) if path else None
        self._memory: dict[tuple[str, str], np.ndarray] = {}
        self._seed_files = [Path(p) for p in seeds]
        self._seeds: dict[str, dict[str, np.ndarray]] | None = None
        self._lock = threading.Lock()
        self.encoded = 0  # texts this process sent to an encoder through the store
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS vectors (space TEXT NOT NULL, key TEXT NOT NULL, "
                             "dim INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (space, key)) WITHOUT ROWID")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

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
        if missing and self.path is not None:
            with self._connect() as conn:
                for start in range(0, len(missing), 500):
                    chunk = missing[start:start + 500]
                    rows = conn.execute(
                        f"SELECT key, dim, vec FROM vectors WHERE space = ? AND key IN ({','.join('?' * len(chunk))})",
                        [space, *chunk]).fetchall()
                    for key, dim, blob in rows:
                        found[key] = np.frombuffer(blob, dtype=STORAGE).reshape(dim)
        return found

    def put_many(self, space: str, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        if self.path is None:
            for key, vec in vectors.items():
                self._memory[(space, key)] = np.asarray(vec, dtype=STORAGE)
            return
        rows = [(space, key, int(vec.shape[-1]), np.asarray(vec, dtype=STORAGE).tobytes()) for key, vec in vectors.items()]
        with self._lock, self._connect() as conn:
            conn.executemany("INSERT OR REPLACE INTO vectors (space, key, dim, vec) VALUES (?, ?, ?, ?)", rows)

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
        if self.path is None:
            return sum(1 for s, _ in self._memory if space is None or s == space)
        with self._connect() as conn:
            if space is None:
                return int(conn.execute("SELECT count(*) FROM vectors").fetchone()[0])
            return int(conn.execute("SELECT count(*) FROM vectors WHERE space = ?", (space,)).fetchone()[0])

    def drop_spaces_except(self, keep: Iterable[str]) -> int:
        """Remove key spaces of models no longer in use; returns the rows removed."""
        if self.path is None:
            return 0
        keep = list(keep)
        with self._lock, self._connect() as conn:
            cursor = conn.execute(f"DELETE FROM vectors WHERE space NOT IN ({','.join('?' * len(keep))})", keep) if keep \
                else conn.execute("DELETE FROM vectors")
            return cursor.rowcount
