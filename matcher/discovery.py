"""The reverse direction: open needs ranked for one expert.

Every score is a function of one need and one expert alone (:mod:`matcher.fusion`), so the
score of a pair is the same whichever side asks: the expert's list of needs is the need's
list of experts read the other way, with the same channels, features, hard constraints,
calibration and explanations. What is worth keeping between requests is the need side of
the work, a prepared :class:`~matcher.ranking.Query` per need (tokens, glossary expansions,
dense query vectors); the engine keeps those per snapshot (:attr:`Engine.need_queries`), keyed
by the need record itself, so an edited need is prepared again and an unchanged one never.
Need vectors come from the index (embedded once by the indexer) or, for needs it has not
seen yet, are embedded in one batch through the embedding store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .ranking import Query, Suggestion
from .records import ExpertAttributes, NeedRecord
from .text import detect_language, normalise


@dataclass
class NeedSuggestion:
    """One need for the expert: the pair's suggestion (score, relevance, band, reasons,
    evidence) exactly as the need's own suggestion list would show it."""

    need_id: str
    suggestion: Suggestion


class NeedRankingMixin:
    """Query-time reverse ranking of :class:`matcher.engine.Engine`."""

    MAX_PREPARED_NEEDS = 50_000

    def prepared_queries(self, needs: Iterable[NeedRecord]) -> list[Query]:
        """A prepared query per need, from the engine's cache where the need is unchanged."""
        needs = list(needs)
        cache = self.need_queries
        missing = [n for n in needs if n not in cache]
        if missing:
            self._embed_needs(missing)
            if len(cache) + len(missing) > self.MAX_PREPARED_NEEDS:
                cache.clear()
            for need in missing:
                cache[need] = self.prepare_query(need)
        return [cache[n] for n in needs]

    def _embed_needs(self, needs: list[NeedRecord]) -> None:
        """Vectors of needs the dense channels do not hold yet, in one batch per channel."""
        for channel in self.dense.values():
            todo = []
            for need in needs:
                text = need.text()
                cached = channel.need_vectors.get(need.id)
                if channel.reads(detect_language(normalise(text))) and (
                        cached is None or cached[0] != channel.fingerprint_of(text)):
                    todo.append((need.id, text))
            channel.set_needs(todo)

    def rank_needs(self, expert_id: str, needs: Iterable[NeedRecord], attributes: ExpertAttributes | None = None, *,
                   limit: int | None = 20, explain: bool = True) -> list[NeedSuggestion]:
        """Needs for ``expert_id``, best first: those a hard constraint rules out for this
        expert (conflict of interest, a cooperation mode he does not accept, paused) are left
        out; ``limit`` None keeps every eligible need."""
        if expert_id not in self.expert_items:
            return []
        needs = list(needs)
        queries = self.prepared_queries(needs)
        scored = []
        expert_lang = self._expert_lang(self.expert_items[expert_id])  # the same for every need
        for need, query, parts in zip(needs, queries, self._parts_for_needs(expert_id, queries), strict=True):
            details = self._score_expert(query, expert_id, parts, attributes, expert_lang)
            if not details[0].excluded:
                scored.append((need.id, details, query, parts))
        scored.sort(key=lambda row: (-row[1][0].score, row[0]))
        if limit is not None:
            scored = scored[:limit]
        out = []
        for need_id, details, query, parts in scored:
            suggestion = self._finish(*details)
            if explain:
                self._explain(query, suggestion, parts)
            out.append(NeedSuggestion(need_id, suggestion))
        return out

    def _parts_for_needs(self, expert_id: str, queries: list[Query]) -> list[dict]:
        """:meth:`_item_parts` of one expert for many needs, in one sparse product for the
        lexical channel and one matrix product per dense channel (the same numbers)."""
        ids = self.expert_items[expert_id]
        item_ids = np.asarray(ids, dtype=np.int64)
        maxima = np.asarray([q.lexical_max for q in queries], dtype=np.float32)
        terms = [q.terms for q in queries]
        lexical = self.lexical.scores_matrix(item_ids, terms) / maxima
        whole = self.expert_lexical.scores_matrix(np.asarray([self.expert_ordinal[expert_id]]), terms)[0] / maxima
        dense: list[dict[str, dict[int, float]]] = [{} for _ in queries]
        for name, channel in self.dense.items():
            covered = [i for i in ids if channel.covered[i]]
            asking = [n for n, q in enumerate(queries) if name in q.vectors]
            if not covered or not asking:
                for n in asking:
                    dense[n][name] = {}
                continue
            matrix = np.stack([queries[n].vectors[name] for n in asking]).astype(np.float32)
            sims = channel.vectors.vectors[covered].astype(np.float32) @ matrix.T
            for column, n in enumerate(asking):
                dense[n][name] = dict(zip(covered, sims[:, column].tolist(), strict=True))
        return [{"items": ids, "lexical": dict(zip(ids, lexical[:, n].tolist(), strict=True)), "whole": float(whole[n]),
                 "dense": dense[n]} for n in range(len(queries))]
