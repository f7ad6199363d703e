"""Lexical channel: BM25 (Lucene variant) over item token lists.

The main segment is a token-major sparse matrix (scipy CSC, one column per token) of
precomputed BM25 weights, built with vectorised numpy from per-document term counts — the same
Lucene formula as ``bm25s`` (a test holds the two equal), in a fraction of its memory at a
million documents. Items added or changed after the main build live in a small delta segment
scored with the main segment's statistics (N, document frequencies, average length), so one
expert's edit costs milliseconds instead of a rebuild; removed items are tombstoned. When the
delta grows past a threshold the owner rebuilds the main segment.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.sparse as sp


class TermCounts:
    """Per-document term counts collected one document at a time, kept as token ids in a few
    large arrays (a million small arrays would cost more than the index itself)."""

    CHUNK = 20_000

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.keys: list[int] = []
        self.lengths: list[int] = []
        self._sizes: list[int] = []
        self._ids: list[np.ndarray] = []
        self._tfs: list[np.ndarray] = []
        self._pending_ids: list[np.ndarray] = []
        self._pending_tfs: list[np.ndarray] = []

    def add(self, key: int, tokens: Iterable[str]) -> None:
        vocab = self.vocab
        ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), dtype=np.int32)
        unique, counts = np.unique(ids, return_counts=True)
        self.keys.append(key)
        self.lengths.append(len(ids))
        self._sizes.append(len(unique))
        self._pending_ids.append(unique.astype(np.int32))
        self._pending_tfs.append(counts.astype(np.float32))
        if len(self._pending_ids) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending_ids:
            self._ids.append(np.concatenate(self._pending_ids))
            self._tfs.append(np.concatenate(self._pending_tfs))
            self._pending_ids, self._pending_tfs = [], []

    def matrix(self) -> sp.csr_matrix:
        """Documents x tokens term frequencies, rows in the order documents were added."""
        self._flush()
        indptr = np.zeros(len(self._sizes) + 1, dtype=np.int64)
        np.cumsum(self._sizes, out=indptr[1:])
        indices = np.concatenate(self._ids) if self._ids else np.zeros(0, np.int32)
        data = np.concatenate(self._tfs) if self._tfs else np.zeros(0, np.float32)
        shape = (len(self._sizes), max(len(self.vocab), 1))
        return sp.csr_matrix((data, indices, indptr), shape=shape)


class LexicalIndex:
    def __init__(self, *, k1: float = 1.2, b: float = 0.75, prefix_length: int = 4000) -> None:
        self.k1 = k1
        self.b = b
        self.prefix_length = prefix_length
        self.vocab: dict[str, int] = {}
        self.matrix: sp.csc_matrix | None = None  # docs x tokens, BM25 weights
        self.main_items = np.zeros(0, dtype=np.int64)  # main doc position -> item id
        self.n_docs = 0
        self.avg_len = 1.0
        self.doc_freq = np.zeros(0, dtype=np.int64)
        self.delta: dict[int, tuple[dict[str, int], int]] = {}  # item id -> (term counts, length)
        self._delta_postings: dict[str, set[int]] = {}  # token -> delta items holding it
        self._dead_array: np.ndarray | None = None
        self.dead: set[int] = set()  # item ids tombstoned in the main segment
        # impact-ordered prefixes of long columns (see :meth:`_build_prefixes`)
        self._prefix_slot = np.zeros(0, dtype=np.int32)
        self._prefix_ids = np.zeros((0, prefix_length), dtype=np.int32)
        self._prefix_weights = np.zeros((0, prefix_length), dtype=np.float32)
        self._scratch = threading.local()  # per-thread work arrays of main-segment length

    # -- building ------------------------------------------------------------------------------
    def build(self, docs: dict[int, list[str]]) -> None:
        """Index ``{item_id: tokens}`` as the main segment (replacing everything)."""
        counts = TermCounts()
        for item_id in sorted(docs):
            counts.add(item_id, docs[item_id])
        self.build_from_counts(counts)

    def build_from_counts(self, counts: TermCounts, groups: np.ndarray | None = None, keys: list[int] | None = None) -> None:
        """Build from collected term counts. With ``groups`` (one group number per counted
        document) the documents of a group are summed into one document whose key is
        ``keys[group]`` — one BM25 document per expert from the items' counts."""
        tf = counts.matrix()
        lengths = np.asarray(counts.lengths, dtype=np.float64)
        doc_keys = np.asarray(counts.keys, dtype=np.int64)
        if groups is not None:
            groups = np.asarray(groups, dtype=np.int64)
            membership = sp.csr_matrix((np.ones(len(groups), dtype=np.float32), (groups, np.arange(len(groups)))),
                                       shape=(len(keys), len(groups)))
            tf = (membership @ tf).tocsr()
            lengths = np.bincount(groups, weights=lengths, minlength=len(keys))
            doc_keys = np.asarray(keys, dtype=np.int64)
        order = np.argsort(doc_keys, kind="stable")
        if not np.array_equal(order, np.arange(len(order))):
            tf = tf[order]
            lengths = lengths[order]
        self.main_items = doc_keys[order]
        self.n_docs = len(doc_keys)
        self.avg_len = float(lengths.mean()) if self.n_docs else 1.0
        self.delta, self.dead, self._delta_postings = {}, set(), {}
        self._dead_array = None
        self.vocab = dict(counts.vocab)
        if self.n_docs == 0:
            self.matrix, self.doc_freq = None, np.zeros(0, dtype=np.int64)
            self._build_prefixes()
            return
        tf.sum_duplicates()
        tf.sort_indices()
        self.doc_freq = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.int64)
        idf = np.log(1 + (self.n_docs - self.doc_freq + 0.5) / (self.doc_freq + 0.5)).astype(np.float32)
        norm = (self.k1 * (1 - self.b + self.b * lengths / self.avg_len)).astype(np.float32)
        row_norm = np.repeat(norm, np.diff(tf.indptr))
        tf.data = idf[tf.indices] * tf.data / (tf.data + row_norm)
        del row_norm
        self.matrix = tf.tocsc()
        del tf
        self.matrix.sort_indices()
        self._build_prefixes()

    def doc_frequency(self, token: str) -> int:
        tid = self.vocab.get(token)
        return int(self.doc_freq[tid]) if tid is not None and tid < len(self.doc_freq) else 0

    def idf(self, token: str) -> float:
        """A token only the delta segment holds is in at least one document: scoring it as in
        none would inflate new items' scores until the next compaction."""
        return self.idf_of_frequency(max(1, self.doc_frequency(token)))

    def idf_of_frequency(self, df: int) -> float:
        n = max(self.n_docs, 1)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def set(self, item_id: int, tokens: list[str]) -> None:
        """Add or replace one item (delta segment)."""
        self.remove(item_id)
        counts = dict(Counter(tokens))
        self.delta[item_id] = (counts, len(tokens))
        for token in counts:
            self._delta_postings.setdefault(token, set()).add(item_id)

    def remove(self, item_id: int) -> None:
        entry = self.delta.pop(item_id, None)
        if entry is not None:
            for token in entry[0]:
                postings = self._delta_postings.get(token)
                if postings is not None:
                    postings.discard(item_id)
                    if not postings:
                        del self._delta_postings[token]
        self.dead.add(item_id)
        self._dead_array = None

    @property
    def delta_size(self) -> int:
        return len(self.delta)

    # -- queries -------------------------------------------------------------------------------
    @property
    def _identity(self) -> bool:
        """Main-segment positions equal item ids (the usual case right after a rebuild)."""
        n = len(self.main_items)
        return n == 0 or (int(self.main_items[0]) == 0 and int(self.main_items[-1]) == n - 1)

    def _dead_ids(self) -> np.ndarray:
        if self._dead_array is None:
            self._dead_array = np.fromiter(self.dead, dtype=np.int64, count=len(self.dead))
        return self._dead_array

    def scores(self, query: dict[str, float], n_items: int) -> np.ndarray:
        """BM25 score of every item id below ``n_items`` for a weighted query (every posting
        read: the exhaustive reference the tests hold :meth:`scores_for` and
        :meth:`top_items` to)."""
        out = np.zeros(n_items, dtype=np.float32)
        if self.matrix is not None:
            main = self._accumulate(query, prefixes=False)
            if self._identity:
                keep = min(self.n_docs, n_items)
                out[:keep] = main[:keep]
            else:
                valid = self.main_items < n_items
                out[self.main_items[valid]] = main[valid]
        if self.dead:
            dead = self._dead_ids()
            out[dead[dead < n_items]] = 0.0
        for item_id, score in self._delta_scores(query).items():
            if item_id < n_items:
                out[item_id] = score
        return out

    def _accumulate(self, query: dict[str, float], *, prefixes: bool) -> np.ndarray:
        """Weighted BM25 sums over the main segment's documents, token by token in query
        order: every posting of each token, or (``prefixes``) at most its impact-ordered
        prefix (:meth:`_build_prefixes`)."""
        main = np.zeros(self.n_docs, dtype=np.float32)
        indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        slots = self._prefix_slot if prefixes else None
        for token, weight in query.items():
            tid = self.vocab.get(token)
            if tid is None:
                continue
            slot = slots[tid] if slots is not None and tid < len(slots) else -1
            if slot >= 0:
                main[self._prefix_ids[slot]] += np.float32(weight) * self._prefix_weights[slot]
            else:
                lo, hi = indptr[tid], indptr[tid + 1]
                main[indices[lo:hi]] += np.float32(weight) * data[lo:hi]
        return main

    def _delta_scores(self, query: dict[str, float]) -> dict[int, float]:
        """Scores of delta items holding at least one query token (through their postings)."""
        totals: dict[int, float] = {}
        if not self.delta:
            return totals
        for token, weight in query.items():
            postings = self._delta_postings.get(token)
            if not postings:
                continue
            idf = self.idf(token)
            for item_id in postings:
                counts, length = self.delta[item_id]
                tf = counts[token]
                norm = self.k1 * (1 - self.b + self.b * length / self.avg_len)
                totals[item_id] = totals.get(item_id, 0.0) + weight * idf * tf / (tf + norm)
        return totals

    def scores_for(self, item_ids: np.ndarray, query: dict[str, float]) -> np.ndarray:
        """Exact BM25 scores of just these items (the candidates): for each query token, the
        candidates found in its (sorted) column by binary search. No document-major copy of
        the matrix is kept for this (it cost as much memory as the matrix itself)."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        out = np.zeros(len(item_ids), dtype=np.float32)
        if len(item_ids) == 0:
            return out
        clipped, in_main = self._main_positions(item_ids)
        if in_main.any():
            out[in_main] = self._main_scores(clipped[in_main], query)
        if self.dead:
            out[np.isin(item_ids, self._dead_ids())] = 0.0
        for item_id, score in self._delta_scores(query).items():
            out[item_ids == item_id] = score
        return out

    def _main_positions(self, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each item's row in the main segment (clipped) and whether it is there at all."""
        if self.matrix is None or not len(self.main_items):
            return np.zeros(len(item_ids), dtype=np.int64), np.zeros(len(item_ids), dtype=bool)
        clipped = np.minimum(np.searchsorted(self.main_items, item_ids), len(self.main_items) - 1)
        return clipped, self.main_items[clipped] == item_ids

    def scores_matrix(self, item_ids: np.ndarray, queries: list[dict[str, float]]) -> np.ndarray:
        """:meth:`scores_for` of the same items for many queries at once (items x queries):
        one sparse product for the main segment, the few delta items term by term."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        out = np.zeros((len(item_ids), len(queries)), dtype=np.float32)
        if len(item_ids) == 0 or not queries:
            return out
        clipped, in_main = self._main_positions(item_ids)
        if in_main.any():
            tokens, columns, weights = [], [], []
            for column, query in enumerate(queries):
                for token, weight in query.items():
                    token_id = self.vocab.get(token)
                    if token_id is not None:
                        tokens.append(token_id)
                        columns.append(column)
                        weights.append(weight)
            # only the queries' terms: a column slice of the term-major matrix, no
            # document-major copy of the whole index
            used, slots = np.unique(np.asarray(tokens, dtype=np.int64), return_inverse=True)
            vectors = sp.csc_matrix((np.asarray(weights, dtype=np.float32), (slots, columns)),
                                    shape=(len(used), len(queries)))
            rows = self.matrix[:, used].tocsr()[clipped[in_main]]
            out[in_main] = (rows @ vectors).toarray()
        if self.dead:
            out[np.isin(item_ids, self._dead_ids())] = 0.0
        for row, item_id in enumerate(item_ids.tolist()):
            if item_id in self.delta:
                counts, length = self.delta[item_id]
                norm = self.k1 * (1 - self.b + self.b * length / self.avg_len)
                for column, query in enumerate(queries):
                    out[row, column] = sum(weight * self.idf(token) * counts[token] / (counts[token] + norm)
                                           for token, weight in query.items() if token in counts)
        return out

    # a column longer than this many times the candidates is binary-searched for them; a shorter
    # one is read whole through the slot map (measured on the 600k-item speed pool)
    GATHER_MAX_RATIO = 16

    def _main_scores(self, positions: np.ndarray, query: dict[str, float]) -> np.ndarray:
        """Weighted BM25 sums of main-segment documents at ``positions``, token by token in
        query order in float32 (as a pass over whole columns would add them). Each query
        token's column is read whole through a map from document to candidate slot (one
        gather) unless it is over ``GATHER_MAX_RATIO`` times longer than the candidates; then
        the candidates are binary-searched in it. The map is this thread's own work array, so
        threads may score at once."""
        unique, inverse = np.unique(positions, return_inverse=True)
        total = np.zeros(len(unique), dtype=np.float32)
        if not len(unique):
            return total[inverse]
        indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        slots = self._slot_map()
        slots[unique] = np.arange(len(unique), dtype=np.int32)
        longest = self.GATHER_MAX_RATIO * len(unique)
        try:
            for token, weight in query.items():
                tid = self.vocab.get(token)
                if tid is None:
                    continue
                lo, hi = int(indptr[tid]), int(indptr[tid + 1])
                if hi == lo:
                    continue
                if hi - lo <= longest:
                    at = slots[indices[lo:hi]]
                    hit = at >= 0
                    total[at[hit]] += np.float32(weight) * data[lo:hi][hit]
                else:
                    at, hit = _find_in_column(indices[lo:hi], unique)
                    total[hit] += np.float32(weight) * data[lo + at[hit]]
        finally:
            slots[unique] = -1
        return total[inverse]

    def _slot_map(self) -> np.ndarray:
        """This thread's map from main-segment position to candidate slot, -1 between uses."""
        slots = getattr(self._scratch, "slots", None)
        if slots is None or len(slots) != self.n_docs:
            slots = self._scratch.slots = np.full(self.n_docs, -1, dtype=np.int32)
        return slots

    # -- candidate generation ------------------------------------------------------------------
    def _build_prefixes(self) -> None:
        """For every token held by more than ``prefix_length`` documents, its
        ``prefix_length`` postings of highest weight (an impact-ordered prefix): candidate
        generation reads these instead of the whole column."""
        length = self.prefix_length
        self._prefix_slot = np.full(len(self.doc_freq), -1, dtype=np.int32)
        if self.matrix is None:
            self._prefix_ids = np.zeros((0, length), dtype=np.int32)
            self._prefix_weights = np.zeros((0, length), dtype=np.float32)
            return
        indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        long = np.flatnonzero(np.diff(indptr) > length)
        self._prefix_slot[long] = np.arange(len(long), dtype=np.int32)
        self._prefix_ids = np.empty((len(long), length), dtype=np.int32)
        self._prefix_weights = np.empty((len(long), length), dtype=np.float32)
        for slot, tid in enumerate(long.tolist()):
            lo, hi = int(indptr[tid]), int(indptr[tid + 1])
            top = np.argpartition(data[lo:hi], hi - lo - length)[hi - lo - length:]
            self._prefix_ids[slot] = indices[lo:hi][top]
            self._prefix_weights[slot] = data[lo:hi][top]

    def top_items(self, query: dict[str, float], k: int) -> np.ndarray:
        """Up to ``k`` item ids with the highest BM25 for ``query`` as read from the
        impact-ordered prefixes: every query token, but at most ``prefix_length`` postings
        of each (its best documents), so the cost does not grow with the collection. The
        scores are lower bounds used only to choose candidates; candidates are then scored
        exactly (:meth:`scores_for`). Delta items are scored exactly; dead items are out."""
        found: list[tuple[np.ndarray, np.ndarray]] = []
        if self.matrix is not None:
            main = self._accumulate(query, prefixes=True)
            touched = np.flatnonzero(main != 0)  # a boolean mask first: 7x faster than on float32
            items = self.main_items[touched]
            scores = main[touched]
            if self.dead:
                keep = ~np.isin(items, self._dead_ids())
                items, scores = items[keep], scores[keep]
            found.append((items, scores))
        delta = self._delta_scores(query)
        if delta:
            found.append((np.fromiter(delta, dtype=np.int64, count=len(delta)),
                          np.fromiter(delta.values(), dtype=np.float32, count=len(delta))))
        if not found:
            return np.zeros(0, dtype=np.int64)
        items = np.concatenate([f[0] for f in found])
        scores = np.concatenate([f[1] for f in found])
        if len(items) > k:
            top = np.argpartition(-scores, k - 1)[:k]
            items, scores = items[top], scores[top]
        return items[scores > 0].astype(np.int64)

    def tokens_in(self, item_ids: list[int], tokens: list[str]) -> dict[int, set[str]]:
        """Which of ``tokens`` each item contains: one vectorised lookup per token."""
        found: dict[int, set[str]] = {i: set() for i in item_ids}
        main_ids = [i for i in set(item_ids) if i not in self.delta and i not in self.dead]
        for item_id in item_ids:
            if item_id in self.delta:
                found[item_id].update(t for t in tokens if t in self.delta[item_id][0])
        if not main_ids or self.matrix is None:
            return found
        ids = np.array(main_ids, dtype=np.int64)
        positions, valid = self._main_positions(ids)
        ids, positions = ids[valid], positions[valid]
        for token in tokens:
            tid = self.vocab.get(token)
            if tid is None:
                continue
            column = self.matrix.indices[self.matrix.indptr[tid] : self.matrix.indptr[tid + 1]]
            if len(column) == 0:
                continue
            _, present = _find_in_column(column, positions)
            for item_id in ids[present]:
                found[int(item_id)].add(token)
        return found

    def contains(self, item_id: int, token: str) -> bool:
        """Whether the item's text has ``token`` (for explanations)."""
        if item_id in self.delta:
            return token in self.delta[item_id][0]
        if item_id in self.dead or self.matrix is None:
            return False
        tid = self.vocab.get(token)
        if tid is None:
            return False
        position, in_main = self._main_positions(np.asarray([item_id], dtype=np.int64))
        column = self.matrix.indices[self.matrix.indptr[tid] : self.matrix.indptr[tid + 1]]
        return bool(in_main[0] and len(column) and _find_in_column(column, position)[1][0])

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
    def load(cls, directory: Path, prefix: str = "lexical", *, prefix_length: int = 4000) -> LexicalIndex:
        with open(directory / f"{prefix}.json", encoding="utf-8") as handle:
            meta = json.load(handle)
        index = cls(k1=meta["k1"], b=meta["b"], prefix_length=prefix_length)
        index.n_docs = int(meta["n_docs"])
        index.avg_len = float(meta["avg_len"])
        index.vocab = {str(k): int(v) for k, v in meta["vocab"].items()}
        for item_id, (counts, length) in meta["delta"].items():
            index.delta[int(item_id)] = (dict(counts), int(length))
            for token in counts:
                index._delta_postings.setdefault(token, set()).add(int(item_id))
        index.dead = {int(i) for i in meta["dead"]}
        index.main_items = np.load(directory / f"{prefix}_items.npy")
        matrix_path = directory / f"{prefix}_matrix.npz"
        if index.n_docs:
            index.matrix = sp.load_npz(matrix_path).tocsc()
            index.doc_freq = np.diff(index.matrix.indptr).astype(np.int64)
            index.matrix.sort_indices()
            if index.matrix.shape[0] != index.n_docs or len(index.main_items) != index.n_docs:
                raise ValueError("lexical index files disagree on the number of documents")
        index._build_prefixes()
        return index


def _find_in_column(column: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``positions`` would sit in the sorted, non-empty ``column`` (clipped),
    and whether it is there."""
    at = np.minimum(np.searchsorted(column, positions), len(column) - 1)
    return at, column[at] == positions
