"""One dense channel's part of the index: its encoder, the FAISS index over the items it reads,
and the vectors of the needs it reads (needs are embedded once, not at every suggestion).

Vectors come through the embedding store, so an unchanged text is never embedded twice. Item
ids are the engine's item positions; an item in a language the encoder does not read keeps a
zero vector and is marked not covered.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .embedding import Encoder
from .embstore import EmbeddingStore
from .items import ListAsArray
from .vectors import VectorIndex


class DenseChannel:
    def __init__(self, encoder: Encoder, store: EmbeddingStore, *, exact_max: int, nprobe: int, batch_size: int) -> None:
        self.encoder = encoder
        self.store = store
        self.batch_size = batch_size
        self.vectors = VectorIndex(encoder.dim, exact_max=exact_max, nprobe=nprobe)
        self.covered: list[bool] = []
        self._covered_array = ListAsArray(bool)
        self.need_vectors: dict[str, tuple[str, np.ndarray]] = {}

    @property
    def name(self) -> str:
        return self.encoder.name

    @property
    def space(self) -> str:
        return self.encoder.fingerprint

    def reads(self, lang: str) -> bool:
        return self.encoder.covers(lang)

    # -- items -------------------------------------------------------------------------------
    def passage_vectors(self, texts: list[str], langs: list[str], *, progress: bool = False) -> tuple[np.ndarray, list[bool]]:
        covered = [self.reads(lang) for lang in langs]
        out = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
        todo = [i for i, ok in enumerate(covered) if ok]
        if todo:
            def encode(batch: list[str]) -> np.ndarray:
                return self.encoder.encode_passages(batch, batch_size=self.batch_size, progress=progress)

            out[todo] = self.store.embed(f"{self.space}:passage", [texts[i] for i in todo], encode, self.encoder.dim)
        return out, covered

    def build(self, texts: list[str], langs: list[str], *, progress: bool = False) -> None:
        vectors, covered = self.passage_vectors(texts, langs, progress=progress)
        self.covered = covered
        self.vectors = VectorIndex(self.encoder.dim, exact_max=self.vectors.exact_max, nprobe=self.vectors.nprobe)
        self.vectors.build(vectors)

    def add(self, item_ids: list[int], texts: list[str], langs: list[str]) -> None:
        vectors, covered = self.passage_vectors(texts, langs)
        added = self.vectors.add(vectors)
        if list(added) != item_ids:
            raise RuntimeError(f"{self.name}: vector ids and item ids diverged")
        self.covered.extend(covered)

    def remove(self, item_ids: list[int]) -> None:
        self.vectors.remove(item_ids)

    def covered_array(self) -> np.ndarray:
        """``covered`` as a boolean array (kept up to date as the list grows)."""
        return self._covered_array(self.covered)

    def similarity_array(self, query: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """Cosines of the query with these items, NaN where this channel does not read one."""
        out = np.full(len(item_ids), np.nan, dtype=np.float32)
        if not len(item_ids):
            return out
        ok = self.covered_array()[item_ids]
        if ok.any():
            out[ok] = self.vectors.similarities(query, item_ids[ok])
        return out

    # -- needs -------------------------------------------------------------------------------
    @staticmethod
    def fingerprint_of(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def query_vectors(self, texts: list[str]) -> np.ndarray:
        return self.store.embed(f"{self.space}:query", texts, self.encoder.encode_queries, self.encoder.dim)

    def set_needs(self, needs: list[tuple[str, str]]) -> None:
        """``needs``: (need id, text) pairs in a language this channel reads."""
        if not needs:
            return
        vectors = self.query_vectors([text for _, text in needs])
        for (need_id, text), vector in zip(needs, vectors, strict=True):
            self.need_vectors[need_id] = (self.fingerprint_of(text), vector)

    def query_vector(self, need_id: str, text: str) -> np.ndarray:
        cached = self.need_vectors.get(need_id)
        if cached is not None and cached[0] == self.fingerprint_of(text):
            return cached[1]
        return self.query_vectors([text])[0]

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: Path) -> list[str]:
        sub = directory / f"dense-{self.name}"
        sub.mkdir()
        files = [f"dense-{self.name}/{f}" for f in self.vectors.save(sub)]
        np.save(sub / "covered.npy", np.asarray(self.covered, dtype=bool))
        need_ids = sorted(self.need_vectors)
        with open(sub / "needs.json", "w", encoding="utf-8") as handle:
            json.dump({"ids": need_ids, "fingerprints": [self.need_vectors[i][0] for i in need_ids]}, handle)
        matrix = np.stack([self.need_vectors[i][1] for i in need_ids]) if need_ids else np.zeros((0, self.encoder.dim), np.float32)
        np.save(sub / "needs.npy", matrix.astype(np.float32))
        return files + [f"dense-{self.name}/{f}" for f in ("covered.npy", "needs.json", "needs.npy")]

    def load(self, directory: Path, items: int) -> None:
        sub = directory / f"dense-{self.name}"
        self.vectors = VectorIndex.load(sub, self.encoder.dim, exact_max=self.vectors.exact_max, nprobe=self.vectors.nprobe)
        self.covered = np.load(sub / "covered.npy").astype(bool).tolist()
        if self.vectors.size != items or len(self.covered) != items:
            raise ValueError(f"{self.name}: {self.vectors.size} vectors and {len(self.covered)} flags for {items} items")
        with open(sub / "needs.json", encoding="utf-8") as handle:
            needs = json.load(handle)
        matrix = np.load(sub / "needs.npy")
        if len(matrix) != len(needs["ids"]):
            raise ValueError(f"{self.name}: need vectors and need ids disagree")
        self.need_vectors = {i: (fp, matrix[n]) for n, (i, fp) in enumerate(zip(needs["ids"], needs["fingerprints"], strict=True))}
