"""Open needs ranked for an expert, and why an expert was suggested for a need: the engine
read from the expert's side (:meth:`matcher.Engine.rank_needs`), with the same live facts,
the same active ranker and the same calibrated relevance as the coordinator's list."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from matcher import Engine, Suggestion
from models import ExpertProfile, Need, User

from ..domain.experts import own_profile
from ..domain.interests import interested_need_ids, open_needs_for
from .ranking import DEFAULT_VERSION, active_ranker
from .records import attributes_for, need_record
from .search import IndexNotReady, reader

log = logging.getLogger("matcher.discovery")


@dataclass
class RecommendedNeed:
    need: Need
    suggestion: Suggestion
    interested: bool


def _ranking_engine() -> Engine:
    engine = reader().engine()
    version, weights = active_ranker()
    return engine if version == DEFAULT_VERSION else engine.with_config(engine.config.with_weights(weights))


def recommended_needs(actor: User, *, limit: int = 20) -> list[RecommendedNeed]:
    """The open needs best for the expert's profile, with the pair's reasons. Raises
    :class:`IndexNotReady` while the index is being built."""
    profile = own_profile(actor)
    needs = {str(n.id): n for n in open_needs_for(profile)}
    engine = _ranking_engine()
    started = time.perf_counter()
    attrs = attributes_for([str(profile.id)]).get(str(profile.id))
    ranked = engine.rank_needs(str(profile.id), [need_record(n) for n in needs.values()], attrs, limit=limit)
    log.info("recommended_needs expert=%s needs=%s ms=%.1f", profile.id, len(needs), 1000 * (time.perf_counter() - started))
    interested = interested_need_ids(profile)
    return [RecommendedNeed(needs[r.need_id], r.suggestion, int(r.need_id) in interested) for r in ranked]


def why_suggested(need: Need, expert: ExpertProfile) -> Suggestion | None:
    """The pair's suggestion as the need's list shows it (score, band, reasons, matched terms,
    closest work), or None when the index does not hold the expert yet."""
    try:
        engine = _ranking_engine()
    except IndexNotReady:
        return None
    expert_id = str(expert.id)
    if expert_id not in engine.expert_items:
        return None
    ranked = engine.rank(need_record(need), attributes_for([expert_id]), limit=None, include_excluded=True,
                         candidates=[expert_id])
    return ranked[0] if ranked else None
