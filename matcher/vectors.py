"""Dense vectors of items and the FAISS index over them.

Item ids are positions in ``vectors``. Exact search (``IndexFlatIP`` in an ``IndexIDMap2``)
below ``exact_max`` vectors; above, an IVF index with product-quantised codes (``IndexIVFPQ``,
one byte per 4 dimensions: 96 bytes for 384) that fetches ``REFINE`` times the asked number of
items, which are then rescored exactly from ``vectors`` (kept in float16: half the memory,
cosine error below 1e-3) and cut to the asked number. Measured on the 600k-item pool of
``benchmarks.speed`` with real need vectors (README): e5 recall@200 against exact search 0.658
at nprobe 64, where 8-bit scalar quantisation (``IndexIVFScalarQuantizer``, 384 bytes per
vector) found 0.595 at nprobe 32; 48-byte codes found only 0.474. A dimension not divisible
by 4 keeps the 8-bit codes.
Removed items are removed from FAISS and marked dead; adds are incremental.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import faiss
import numpy as np

STORAGE = np.float16
# IVF: items fetched per item asked for, before the exact rescoring from the float16 vectors.
REFINE = 5


class VectorIndex:
    def __init__(self, dim: int, *, exact_max: int = 50_000, nprobe: int = 32) -> None:
        self.dim = dim
        self.exact_max = exact_max
        self.nprobe = nprobe
        self._vectors = np.zeros((0, dim), dtype=STORAGE)
        self._count = 0
        self.alive = np.zeros(0, dtype=bool)
        self.index: faiss.Index = self._flat()

    # -- storage -----------------------------------------------------------------------------
    @property
    def vectors(self) -> np.ndarray:
        return self._vectors[: self._count]

    @property
    def size(self) -> int:
        return self._count

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(faiss.downcast_index(self.index), faiss.IndexIVF) else "exact"

    def _flat(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _reserve(self, extra: int) -> None:
        need = self._count + extra
        if need <= len(self._vectors):
            return
        capacity = max(need, int(len(self._vectors) * 1.5) + 1024)
        grown = np.zeros((capacity, self.dim), dtype=STORAGE)
        grown[: self._count] = self._vectors[: self._count]
        self._vectors = grown
        alive = np.zeros(capacity, dtype=bool)
        alive[: self._count] = self.alive[: self._count]
        self.alive = alive

    # -- building ------------------------------------------------------------------------------
    def build(self, vectors: np.ndarray, alive: np.ndarray | None = None) -> None:
        """Replace everything with ``vectors`` (ids 0..n-1) and choose the index type."""
        vectors = vectors.reshape(-1, self.dim)
        # No copy when the caller already holds float16 (a rebuild of 600k vectors per channel
        # would otherwise hold both at its peak).
        self._vectors = np.ascontiguousarray(vectors, dtype=STORAGE)
        self._count = len(vectors)
        self.alive = np.ones(self._count, dtype=bool) if alive is None else alive.astype(bool).copy()
        live_ids = np.flatnonzero(self.alive[: self._count]).astype(np.int64)
        if len(live_ids) > self.exact_max:
            self.index = self._ivf(live_ids)
        else:
            self.index = self._flat()
        for start in range(0, len(live_ids), 50_000):
            chunk = live_ids[start : start + 50_000]
            self.index.add_with_ids(self._vectors[chunk].astype(np.float32), chunk)

    def _ivf(self, live_ids: np.ndarray) -> faiss.Index:
        nlist = int(min(4096, max(64, 4 * math.sqrt(len(live_ids)))))
        quantizer = faiss.IndexFlatIP(self.dim)
        if self.dim % 4 == 0:
            index = faiss.IndexIVFPQ(quantizer, self.dim, nlist, self.dim // 4, 8, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, self.dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        rng = np.random.default_rng(0)
        take = min(len(live_ids), max(nlist * 40, 20_000))
        sample = self._vectors[np.sort(rng.choice(live_ids, size=take, replace=False))].astype(np.float32)
        index.train(sample)
        index.nprobe = self.nprobe
        index.make_direct_map(False)
        return index

    def add(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self._reserve(len(vectors))
        ids = np.arange(self._count, self._count + len(vectors), dtype=np.int64)
        self._vectors[self._count : self._count + len(vectors)] = vectors
        self.alive[self._count : self._count + len(vectors)] = True
        self._count += len(vectors)
        if len(vectors):
            self.index.add_with_ids(vectors, ids)
        return ids

    def remove(self, ids: np.ndarray | list[int]) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[(ids >= 0) & (ids < self._count)]
        ids = ids[self.alive[ids]]
        if len(ids) == 0:
            return
        self.alive[ids] = False
        self.index.remove_ids(faiss.IDSelectorBatch(ids))

    # -- queries -------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` live item ids and their inner products: exact below ``exact_max``; from
        an IVF index, ``REFINE * k`` approximate neighbours rescored exactly."""
        if self.index.ntotal == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ivf = self.kind == "ivf"
        fetch = min(k * REFINE if ivf else k, self.index.ntotal)
        scores, ids = self.index.search(query.reshape(1, -1).astype(np.float32), fetch)
        keep = ids[0] >= 0
        ids, scores = ids[0][keep], scores[0][keep]
        if ivf and len(ids):
            scores = self.similarities(query, ids)
            top = np.argsort(-scores, kind="stable")[:k]
            ids, scores = ids[top], scores[top]
        return ids, scores

    def similarities(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact inner products of ``query`` with the given items. Where torch runs on one
        thread (every serving process: the e5 runtime sets it) the float16 rows are gathered
        and widened by torch, twice as fast as numpy's float16 conversion; with more threads
        numpy does it, so no OpenMP pool starts in a process that may fork later."""
        if len(ids) == 0:
            return np.zeros(0, dtype=np.float32)
        ids = np.asarray(ids, dtype=np.int64)
        query = np.ascontiguousarray(query, dtype=np.float32)
        torch = sys.modules.get("torch")
        if torch is not None and torch.get_num_threads() == 1:
            rows = torch.from_numpy(self._vectors).index_select(0, torch.from_numpy(ids))
            return (rows.float() @ torch.from_numpy(query)).numpy()
        return self._vectors[ids].astype(np.float32) @ query

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path) -> list[str]:
        np.save(directory / "vectors.npy", self.vectors)
        np.save(directory / "alive.npy", self.alive[: self._count])
        faiss.write_index(self.index, str(directory / "faiss.index"))
        return ["vectors.npy", "alive.npy", "faiss.index"]

    @classmethod
    def load(cls, directory: Path, dim: int, *, exact_max: int, nprobe: int) -> VectorIndex:
        index = cls(dim, exact_max=exact_max, nprobe=nprobe)
        vectors = np.load(directory / "vectors.npy")
        alive = np.load(directory / "alive.npy")
        if vectors.ndim != 2 or vectors.shape[1] != dim or len(alive) != len(vectors):
            raise ValueError(f"vector files disagree: vectors {vectors.shape}, alive {alive.shape}, dim {dim}")
        index._vectors = np.ascontiguousarray(vectors, dtype=STORAGE)
        index._count = len(vectors)
        index.alive = alive.astype(bool)
        index.index = faiss.read_index(str(directory / "faiss.index"))
        if index.index.ntotal != int(index.alive.sum()):
            raise ValueError(f"FAISS holds {index.index.ntotal} vectors but {int(index.alive.sum())} items are live")
        if isinstance(faiss.downcast_index(index.index), faiss.IndexIVF):
            faiss.downcast_index(index.index).nprobe = nprobe
        return index
