"""Every weight and threshold of the engine in one object, and the arithmetic on weights that
both the engine and the learned ranker use (so it exists once)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# What a learned ranker weighs: the two text parts and the structured features, in this order.
TEXT_PARTS = ("lexical", "semantic")
FEATURES = ("discipline", "region", "cooperation_mode", "capacity", "recency")
RANKER_FEATURES = TEXT_PARTS + FEATURES


@dataclass(frozen=True)
class FieldWeights:
    """BM25 field weights, applied as term repetition (a BM25F approximation)."""

    title: int = 3
    keywords: int = 2
    body: int = 1


@dataclass(frozen=True)
class MatcherConfig:
    # Aggregation of an expert's item scores: "topk" (mean of the best k), "max" or "mean".
    aggregation: str = "topk"
    top_k: int = 5
    field_weights: FieldWeights = field(default_factory=FieldWeights)
    # Query-side weights of glossary expansions relative to the user's own words.
    translation_weight: float = 0.7
    synonym_weight: float = 0.5
    # Each channel's expert-level raw score -> common scale, per language pair of need and
    # expert: (median of unrelated pairs, median of relevant pairs) become (0, 1). Fitted on
    # development data by benchmarks.fusion_fit (cross-lingual cosines run lower than
    # monolingual ones, so one scale for all pairs would rank every cross-lingual expert last).
    channel_scales: dict[str, dict[str, tuple[float, float]]] = field(
        default_factory=lambda: {
            # CSL dev routing (2026-12-04, benchmarks.fusion_fit, dev half).
            "zh-zh": {"lexical": (0.0095, 0.0638), "e5": (0.8262, 0.8513)},
            # English dev routing (ML Anthology dev half, 200 experts).
            "en-en": {"lexical": (0.0213, 0.0817), "st": (0.1654, 0.39), "e5": (0.8204, 0.8453)},
            # Cross-lingual: the demo's English needs / Chinese-writing experts and the reverse
            # (no other cross-lingual development data exists here yet).
            "en-zh": {"lexical": (0.003, 0.060), "e5": (0.780, 0.810)},
            "zh-en": {"lexical": (0.003, 0.043), "e5": (0.773, 0.805)},
        })
    # Monotone map of the lexical share before its scale, per language pair: share ** power
    # (1: unchanged; the pair's lexical scale above is then on the mapped values). Searched by
    # fusion_fit --joint over 1, 0.75, 0.5, 0.35, 0.25 (2026-12-07): English dev prefers 1;
    # CSL dev prefers 0.75 by 0.001 of its objective, within noise, so every pair stays at 1.
    lexical_power: dict[str, float] = field(default_factory=dict)
    # Fusion weights per language pair (need-expert); "semantic" is the dense channels' part,
    # split among them by dense_shares. zh-zh: CSL dev routing peaks at lexical 0.2 (MRR 0.603)
    # and the demo judgements at 0.8; 0.3 keeps CSL at 0.597 and lifts the demo from 0.874 to
    # 0.881 nDCG@10. en-en: fitted jointly on the English dev split (routing MRR and per-expert
    # cross-need AUC, maximising the worst gain over the best channel alone; 2026-12-07,
    # fusion_fit --joint): lexical 0.4-0.45 with st 0.9-1.0 of the semantic part tie on the dev
    # half (worst gain +0.008); 0.45 with st 0.9 keeps e5 as the fallback if MiniLM cannot
    # load. The routing-only fit (0.6, st 0.7) lost 0.010 AUC to MiniLM alone. en-zh: the
    # demo's English needs (the only cross-lingual judgements here; in-sample), 0.6. zh-en:
    # flat on the demo, 0.2.
    fusion_weights: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "zh-zh": {"lexical": 0.3, "semantic": 0.7},
            "en-en": {"lexical": 0.45, "semantic": 0.55},
            "en-zh": {"lexical": 0.6, "semantic": 0.4},
            "zh-en": {"lexical": 0.2, "semantic": 0.8},
        })
    dense_shares: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "zh-zh": {"e5": 1.0},
            "en-en": {"st": 0.9, "e5": 0.1},  # English dev routing + cross-need, jointly
            "en-zh": {"e5": 1.0},
            "zh-en": {"e5": 1.0},
        })
    # Weight of the text relevance and of each structured feature in the final score.
    text_weight: float = 1.0
    feature_weights: dict[str, float] = field(
        default_factory=lambda: {
            "discipline": 0.02,
            "region": 0.02,
            "cooperation_mode": 0.01,
            "capacity": 0.01,
            "recency": 0.01,
        }
    )
    # A learned ranker's weights (RANKER_FEATURES -> weight); None: the weights above.
    learned_weights: dict[str, float] | None = None
    recency_full_years: int = 3
    recency_zero_years: int = 15
    # Candidate generation: items fetched from each channel before expert-level scoring.
    candidate_items: int = 200
    score_all_below_experts: int = 3000
    # FAISS: exact search below this many vectors, IVF (product-quantised, rescored exactly)
    # above. nprobe 64: on the 600k pool of benchmarks.speed the refined IVF-PQ search finds
    # more of the exact top 200 than IVF-SQ8 at nprobe 32 did (README).
    exact_index_max_vectors: int = 50_000
    ivf_nprobe: int = 64
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    # Character bigrams of Chinese text as extra tokens: measured no better than search-mode
    # segmentation alone (CSL routing 0.490 vs 0.490) at twice the index size, so off.
    cjk_bigrams: bool = False
    # Query terms held by more than this share of items (and by more than
    # ``term_prune_min_docs`` items) are left out: their idf is small, so they barely change
    # the ranking, but they cost time in proportion to the number of documents holding them.
    # At the demo's scale nothing is pruned.
    term_prune_share: float = 0.05
    term_prune_min_docs: int = 5000
    # Above ``score_all_below_experts``, lexical candidates come from every query term's
    # ``lexical_prefix`` best postings (an impact-ordered prefix of each column held by more
    # documents), not from whole columns: the pass costs at most terms x prefix postings at
    # any scale. Candidates are then scored exactly with every term. 4,000: on the 600k-item
    # pool of benchmarks.speed the top 20 after candidate generation kept as many of an
    # exhaustive ranking's top 20 (0.375 of them on 12 needs) as the former pass over whole
    # columns (0.379); 1,000 kept 0.304 and saved 5 ms.
    lexical_prefix: int = 4000
    # Lexical channel: share of the item-level aggregate; the rest comes from one BM25
    # document per expert (all items together), which catches vocabulary spread over items.
    item_level_share: float = 0.5
    encode_batch_size: int = 64
    # Delta-segment size at which the lexical index is rebuilt in one piece.
    lexical_compact_at: int = 5000

    def ranker_weights(self) -> dict[str, float]:
        """The weights a learned ranker starts from and is compared with: text parts as the
        mean over language pairs of their weights, then the feature weights."""
        if self.learned_weights is not None:
            return dict(self.learned_weights)
        pairs = list(self.fusion_weights.values())
        text = {part: self.text_weight * sum(p.get(part, 0.0) for p in pairs) / len(pairs) for part in TEXT_PARTS}
        return {**text, **{f: self.feature_weights.get(f, 0.0) for f in FEATURES}}

    def with_weights(self, weights: dict[str, float]) -> MatcherConfig:
        """This configuration scoring with a learned ranker's weights."""
        return dataclasses.replace(self, learned_weights={k: float(weights.get(k, 0.0)) for k in RANKER_FEATURES})

    def score_weights(self, pair: str) -> tuple[dict[str, float], dict[str, float]]:
        """(text part weights, feature weights) for a language pair, learned ones first.
        Worked out once per pair for this (frozen) configuration; callers must not change them."""
        cache = self.__dict__.setdefault("_score_weights", {})
        weights = cache.get(pair)
        if weights is None:
            if self.learned_weights is not None:
                w = self.learned_weights
                weights = {p: w.get(p, 0.0) for p in TEXT_PARTS}, {f: w.get(f, 0.0) for f in FEATURES}
            else:
                text = self.fusion_weights.get(pair) or self.fusion_weights["zh-zh"]
                weights = {p: self.text_weight * text.get(p, 0.0) for p in TEXT_PARTS}, dict(self.feature_weights)
            cache[pair] = weights
        return weights
