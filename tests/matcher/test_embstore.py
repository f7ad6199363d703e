"""Every text is embedded once: the embedding store under rebuilds, edits and model changes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from matcher import AchievementRecord, EmbeddingStore, Engine, ExpertRecord, MatcherConfig, NeedRecord
from matcher.embstore import text_key

pytestmark = pytest.mark.slow


class CountingEncoder:
    """A real encoder that counts the texts it is asked to encode."""

    def __init__(self, inner) -> None:
        self.inner, self.queries, self.passages = inner, [], []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_queries(self, texts):
        self.queries.extend(texts)
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts, **kwargs):
        self.passages.extend(texts)
        return self.inner.encode_passages(texts, **kwargs)


EXPERTS = [
    ExpertRecord(id="a", keywords=("lychee",), achievements=(
        AchievementRecord(id="a1", title="Flower induction and fruit set of lychee"),
        AchievementRecord(id="a2", title="Girdling to control vegetative flushes"))),
    ExpertRecord(id="b", keywords=("钛合金",), achievements=(AchievementRecord(id="b1", title="TC4钛合金近β锻造组织调控"),)),
]
NEEDS = [NeedRecord(id="n1", title="Lychee trees flower poorly")]


def engine_with(store, encoder) -> Engine:
    engine = Engine(MatcherConfig(), [encoder], store=store)
    engine.build(EXPERTS, NEEDS)
    return engine


def test_a_second_rebuild_embeds_nothing(minilm, tmp_path):
    store = EmbeddingStore(tmp_path / "embeddings.sqlite")
    first = CountingEncoder(minilm)
    engine_with(store, first)
    assert len(first.passages) == 3 and len(first.queries) == 1  # the English items (MiniLM reads no Chinese), 1 need
    second = CountingEncoder(minilm)
    rebuilt = engine_with(EmbeddingStore(tmp_path / "embeddings.sqlite"), second)  # a new process: the file only
    assert second.passages == [] and second.queries == []
    fresh = engine_with(EmbeddingStore(None, seeds=()), CountingEncoder(minilm))
    need = NeedRecord(id="q", title="lychee fruit drop")
    assert [s.expert_id for s in rebuilt.rank(need)] == [s.expert_id for s in fresh.rank(need)]
    assert [s.score for s in rebuilt.rank(need)] == pytest.approx([s.score for s in fresh.rank(need)], abs=2e-3)


def test_a_changed_achievement_is_embedded_exactly_once(minilm, tmp_path):
    store = EmbeddingStore(tmp_path / "embeddings.sqlite")
    counting = CountingEncoder(minilm)
    engine = engine_with(store, counting)
    counting.passages.clear()
    changed = dataclasses.replace(EXPERTS[0], achievements=(
        EXPERTS[0].achievements[0], AchievementRecord(id="a2", title="Girdling and ethephon to control flushes")))
    engine.upsert_expert(changed)
    assert counting.passages == ["Girdling and ethephon to control flushes"]
    engine.upsert_expert(changed)  # the same edit again (an outbox row applied twice)
    engine.build([changed, EXPERTS[1]])
    assert counting.passages == ["Girdling and ethephon to control flushes"]


def test_another_model_is_another_key_space(minilm, tmp_path):
    store = EmbeddingStore(tmp_path / "embeddings.sqlite")
    engine_with(store, minilm)
    space = f"{minilm.fingerprint}:passage"
    assert store.count(space) == 3
    other = f"{'0' * 12}:passage"
    assert store.get_many(other, [text_key("Flower induction and fruit set of lychee")]) == {}
    assert store.drop_spaces_except([space, f"{minilm.fingerprint}:query"]) == 0
    assert store.drop_spaces_except([space]) == 1 and store.count() == 3


def test_stored_vectors_agree_with_fresh_ones(minilm, tmp_path):
    store = EmbeddingStore(tmp_path / "embeddings.sqlite")
    texts = ["Flower induction and fruit set of lychee", "钛合金锻造"]
    stored = store.embed("space:passage", texts, lambda batch: minilm.encode_passages(batch), minilm.dim)
    again = store.embed("space:passage", texts, lambda batch: pytest.fail("encoded twice"), minilm.dim)
    assert np.allclose(stored, again, atol=2e-3)
    assert np.allclose(again, minilm.encode_passages(texts), atol=2e-3)
