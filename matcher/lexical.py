"""Lexical channel: BM25 (Lucene variant) over item token lists.

The main segment is a ``bm25s`` index (a token-major sparse matrix of precomputed BM25
weights). Items added or changed after the main build live in a small delta segment scored
with the main segment's statistics (N, document frequencies, average length), so one expert's
edit costs milliseconds instead of a rebuild; removed items are tombstoned. When the delta
grows past a threshold the owner rebuilds the main segment.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import bm25s
import numpy as np
import scipy.sparse as sp


class LexicalIndex:
    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.vocab: dict[str, int] = {}
        self.matrix: sp.csc_matrix | None = None  # docs x tokens, BM25 weights
        self.main_items = np.zeros(0, dtype=np.int64)  # main doc position -> item id
        self.n_docs = 0
        self.avg_len = 1.0
        self.doc_freq = np.zeros(0, dtype=np.int64)
        self.delta: dict[int, tuple[dict[str, int], int]] = {}  # item id -> (term counts, length)
        self.dead: set[int] = set()  # item ids tombstoned in the main segment

    # -- building ------------------------------------------------------------------------------
    def build(self, docs: dict[int, list[str]]) -> None:
        item_ids = np.array(sorted(docs), dtype=np.int64)
        corpus = [docs[i] for i in item_ids]
        self.main_items = item_ids
        self.n_docs = len(corpus)
        self.avg_len = (sum(len(d) for d in corpus) / self.n_docs) if self.n_docs else 1.0
        self.delta = {}
        self.dead = set()
        if not self.n_docs:
            self.vocab, self.matrix, self.doc_freq = {}, None, np.zeros(0, dtype=np.int64)
            return
        retriever = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        retriever.index(corpus, show_progress=False)
        scores = retriever.scores
        token_major = sp.csr_matrix(
            (scores["data"], scores["indices"], scores["indptr"]),
            shape=(len(scores["indptr"]) - 1, scores["num_docs"]),
        )
        self.matrix = token_major.T.tocsc()  # columns are tokens
        self.matrix.sort_indices()
        self.vocab = {token: int(i) for token, i in retriever.vocab_dict.items()}
        self.doc_freq = np.diff(self.matrix.indptr).astype(np.int64)

    def idf(self, token: str) -> float:
        tid = self.vocab.get(token)
        df = int(self.doc_freq[tid]) if tid is not None and tid < len(self.doc_freq) else 0
        n = max(self.n_docs, 1)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def set(self, item_id: int, tokens: list[str]) -> None:
        """Add or replace one item (delta segment)."""
        self.remove(item_id)
        self.delta[item_id] = (dict(Counter(tokens)), len(tokens))

    def remove(self, item_id: int) -> None:
        self.delta.pop(item_id, None)
        self.dead.add(item_id)

    @property
    def delta_size(self) -> int:
        return len(self.delta)

    # -- queries -------------------------------------------------------------------------------
    def scores(self, query: dict[str, float], n_items: int) -> np.ndarray:
        """BM25 score of every item id below ``n_items`` for a weighted query."""
        out = np.zeros(n_items, dtype=np.float32)
        if self.matrix is not None:
            main = np.zeros(self.n_docs, dtype=np.float32)
            indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
            for token, weight in query.items():
                tid = self.vocab.get(token)
                if tid is None:
                    continue
                lo, hi = indptr[tid], indptr[tid + 1]
                main[indices[lo:hi]] += weight * data[lo:hi]
            valid = self.main_items < n_items
            out[self.main_items[valid]] = main[valid]
        if self.dead:
            dead = np.fromiter((i for i in self.dead if i < n_items), dtype=np.int64)
            out[dead] = 0.0
        if self.delta:
            idf = {token: self.idf(token) for token in query}
            for item_id, (counts, length) in self.delta.items():
                if item_id < n_items:
                    out[item_id] = self._delta_score(counts, length, query, idf)
        return out

    def _delta_score(self, counts: dict[str, int], length: int, query: dict[str, float], idf: dict[str, float]) -> float:
        norm = self.k1 * (1 - self.b + self.b * length / self.avg_len)
        total = 0.0
        for token, weight in query.items():
            tf = counts.get(token)
            if tf:
                total += weight * idf[token] * tf / (tf + norm)
        return total

    def contains(self, item_id: int, token: str) -> bool:
        """Whether the item's text has ``token`` (for explanations)."""
        if item_id in self.delta:
            return token in self.delta[item_id][0]
        if item_id in self.dead or self.matrix is None:
            return False
        tid = self.vocab.get(token)
        if tid is None:
            return False
        pos = np.searchsorted(self.main_items, item_id)
        if pos >= len(self.main_items) or self.main_items[pos] != item_id:
            return False
        column = self.matrix.indices[self.matrix.indptr[tid] : self.matrix.indptr[tid + 1]]
        hit = np.searchsorted(column, pos)
        return bool(hit < len(column) and column[hit] == pos)

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path, prefix: str = "lexical") -> list[str]:
        if self.matrix is not None:
            sp.save_npz(directory / f"{prefix}_matrix.npz", self.matrix, compressed=False)
        meta = {
            "k1": self.k1,
            "b": self.b,
            "n_docs": self.n_docs,
            "avg_len": self.avg_len,
            "vocab": self.vocab,
            "delta": {str(i): [counts, length] for i, (counts, length) in self.delta.items()},
            "dead": sorted(self.dead),
        }
        with open(directory / f"{prefix}.json", "w", encoding="utf-8") as handle:
            json.dump(meta, handle, ensure_ascii=False)
        np.save(directory / f"{prefix}_items.npy", self.main_items)
        return [f"{prefix}.json", f"{prefix}_items.npy"] + ([f"{prefix}_matrix.npz"] if self.matrix is not None else [])

    @classmethod
    def load(cls, directory: Path, prefix: str = "lexical") -> LexicalIndex:
        with open(directory / f"{prefix}.json", encoding="utf-8") as handle:
            meta = json.load(handle)
        index = cls(k1=meta["k1"], b=meta["b"])
        index.n_docs = int(meta["n_docs"])
        index.avg_len = float(meta["avg_len"])
        index.vocab = {str(k): int(v) for k, v in meta["vocab"].items()}
        index.delta = {int(i): (dict(v[0]), int(v[1])) for i, v in meta["delta"].items()}
        index.dead = {int(i) for i in meta["dead"]}
        index.main_items = np.load(directory / f"{prefix}_items.npy")
        matrix_path = directory / f"{prefix}_matrix.npz"
        if index.n_docs:
            index.matrix = sp.load_npz(matrix_path).tocsc()
            index.doc_freq = np.diff(index.matrix.indptr).astype(np.int64)
            if index.matrix.shape[0] != index.n_docs or len(index.main_items) != index.n_docs:
                raise ValueError("lexical index files disagree on the number of documents")
        return index
