"""Every weight and threshold of the engine in one object."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    # Channel weights when the dense model covers the query's language.
    dense_weight: float = 0.3
    lexical_weight: float = 0.7
    # Share of the final score taken by text relevance; the rest by the structured features.
    text_weight: float = 0.75
    feature_weights: dict[str, float] = field(
        default_factory=lambda: {
            "discipline": 0.08,
            "region": 0.05,
            "cooperation_mode": 0.04,
            "capacity": 0.04,
            "recency": 0.04,
        }
    )
    recency_full_years: int = 3
    recency_zero_years: int = 15
    # Candidate generation: items fetched from each channel before expert-level scoring.
    candidate_items: int = 200
    score_all_below_experts: int = 3000
    # FAISS: exact search below this many vectors, IVF above.
    exact_index_max_vectors: int = 50_000
    ivf_nprobe: int = 32
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
    # Above ``score_all_below_experts``, candidates come from a pass over all items with the
    # need's most informative terms (by weight x idf) until their posting lists hold
    # ``candidate_postings`` entries (at least ``candidate_min_terms`` terms); candidates are
    # then scored exactly with every term. This bounds the cost of the pass at any scale.
    candidate_postings: int = 200_000
    candidate_min_terms: int = 16
    # Lexical channel: share of the item-level aggregate; the rest comes from one BM25
    # document per expert (all items together), which catches vocabulary spread over items.
    item_level_share: float = 0.5
    encode_batch_size: int = 64
    # Delta-segment size at which the lexical index is rebuilt in one piece.
    lexical_compact_at: int = 5000
