"""Learning from coordinator decisions: impressions, labels, training, activation.

Every suggestion list shown is logged with each expert's ranking features. A proposal made
after an impression is a positive label, graded by how far the match went; a decline for "not
my field" counts against the pair; a coordinator's dismissal of a suggestion (with a reason,
web/domain/dismissals.py) is a negative label, ranked below the experts nobody acted on. An
expert's own "I'm interested" in a need (from his recommended needs) is a positive label of grade
``INTEREST_GRADE`` for that pair wherever a suggestion list of the need showed him, whenever it was
shown: it is the expert's judgement of relevance, not a reaction to that list. A coordinator's
decision on the pair (a proposal or a dismissal) wins over it. ``train`` fits a pairwise logistic model (scikit-learn) on
the older impressions, compares it with the active weights on the newer ones (nDCG@10), and
activates it only if it ranks better. Models are linear in the same features as the default
weighted sum, so their explanations stay readable: a learned model is a new set of weights.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import sqlalchemy as sa

from matcher import MatcherConfig
from matcher.config import RANKER_FEATURES
from models import Match, MatchEvent, NeedInterest, RankerModel, SuggestionImpression, db, utcnow, write_transaction

from ..domain.lifecycle import DECLINED, RANKER_GRADE

log = logging.getLogger("matcher.ranking")

FEATURES = RANKER_FEATURES
DEFAULT_VERSION = "weighted-sum-v2"
MIN_DECISIONS = 20
MIN_TEST_LISTS = 5
GRADE = RANKER_GRADE  # how far a proposal went, from the lifecycle table
DISMISSED = -1.0  # a coordinator said "not this expert for this need"
INTEREST_GRADE = 1.0  # the expert said he is interested: as good as a bare proposal


def active_ranker() -> tuple[str, dict[str, float]]:
    model = db.session.scalar(sa.select(RankerModel).where(RankerModel.active.is_(True)).order_by(RankerModel.id.desc()))
    if model is None:
        return DEFAULT_VERSION, MatcherConfig().ranker_weights()
    return model.version, {k: float(model.weights.get(k, 0.0)) for k in FEATURES}


# -- labels and training --------------------------------------------------------------------
@dataclass
class RankedList:
    need_id: int
    shown_at: object
    experts: list[int]
    features: np.ndarray  # experts x FEATURES
    stored_scores: np.ndarray
    labels: np.ndarray


def decision_labels() -> dict[tuple[int, int], tuple[float, object]]:
    """(need, expert) -> (grade, when the coordinator decided; None for an expert's interest,
    which holds for every list of the need). A standing dismissal is :data:`DISMISSED`; a match
    of the pair, if any, is the decision that counts; an interest counts only where the
    coordinator decided nothing."""
    from ..domain.dismissals import standing_dismissals

    labels: dict[tuple[int, int], tuple[float, object]] = {
        (need_id, expert_id): (DISMISSED, when) for need_id, expert_id, when in standing_dismissals()}
    declines = {m: (e.reason_code or "") for m, e in (
        (e.match_id, e) for e in db.session.scalars(sa.select(MatchEvent).where(
            MatchEvent.to_status.in_([status.value for status in DECLINED]))))}
    for match in db.session.scalars(sa.select(Match).where(Match.proposed_by_id.is_not(None))):
        if match.status in DECLINED:
            grade = 0.0 if declines.get(match.id) == "not_my_field" else 1.0
        else:
            grade = float(GRADE.get(match.status, 1))
        labels[(match.need_id, match.expert_id)] = (grade, match.created_at)
    for need_id, expert_id in db.session.execute(sa.select(NeedInterest.need_id, NeedInterest.expert_id)):
        labels.setdefault((need_id, expert_id), (INTEREST_GRADE, None))
    return labels


def ranked_lists() -> list[RankedList]:
    labels = decision_labels()
    out = []
    for impression in db.session.scalars(sa.select(SuggestionImpression).order_by(SuggestionImpression.shown_at, SuggestionImpression.id)):
        rows = [i for i in impression.items if not i.get("excluded")]
        if not rows:
            continue
        grades = []
        for item in rows:
            label = labels.get((impression.need_id, item["expert_id"]))
            decided_after = label is not None and (label[1] is None or label[1] >= impression.shown_at - timedelta(minutes=1))
            grades.append(label[0] if decided_after else 0.0)
        if not any(g != 0 for g in grades):  # nobody decided anything about this list
            continue
        out.append(RankedList(
            impression.need_id, impression.shown_at, [i["expert_id"] for i in rows],
            np.array([[i["features"].get(f, 0.0) for f in FEATURES] for i in rows], dtype=float),
            np.array([i["score"] for i in rows], dtype=float), np.array(grades, dtype=float)))
    return out


def ndcg_at(scores: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """nDCG@k. With negative labels (dismissals) the gain of a list can fall below zero, so it
    is normalised between the worst and the ideal order instead (both equal the classic
    formula's 0 and 1 when no label is negative)."""
    def dcg(grades) -> float:
        return sum((2**g - 1) / math.log2(rank + 2) for rank, g in enumerate(list(grades)[:k]))

    order = np.argsort(-scores, kind="stable")
    actual, ideal = dcg(labels[order]), dcg(sorted(labels, reverse=True))
    if labels.min(initial=0.0) >= 0:
        return actual / ideal if ideal > 0 else 0.0
    worst = dcg(sorted(labels))
    return (actual - worst) / (ideal - worst) if ideal > worst else 0.0


def fit_pairwise(lists: list[RankedList]) -> dict[str, float]:
    """Pairwise logistic regression on feature differences; weights clipped to be non-negative
    (a feature may not count against an expert) and scaled to sum to 1."""
    from sklearn.linear_model import LogisticRegression

    differences, targets = [], []
    for ranked in lists:
        for i in range(len(ranked.experts)):
            for j in range(len(ranked.experts)):
                if ranked.labels[i] > ranked.labels[j]:
                    differences.append(ranked.features[i] - ranked.features[j])
                    targets.append(1)
                    differences.append(ranked.features[j] - ranked.features[i])
                    targets.append(0)
    model = LogisticRegression(fit_intercept=False, C=1.0, max_iter=2000)
    model.fit(np.array(differences), np.array(targets))
    weights = np.clip(model.coef_[0], 0.0, None)
    if weights.sum() <= 0:
        raise ValueError("the decisions carry no usable preference")
    weights = weights / weights.sum()
    return {name: round(float(w), 6) for name, w in zip(FEATURES, weights, strict=True)}


@dataclass
class TrainingReport:
    decisions: int
    train_lists: int
    test_lists: int
    ndcg_current: float
    ndcg_learned: float
    activated: bool
    version: str | None
    message: str
    weights: dict[str, float] | None = None


def train(*, min_decisions: int = MIN_DECISIONS, test_share: float = 0.25) -> TrainingReport:
    """Train on older decisions, compare on newer ones, activate only when better."""
    lists = ranked_lists()
    decisions = int(sum((ranked.labels != 0).sum() for ranked in lists))
    if decisions < min_decisions or len(lists) < 2 * MIN_TEST_LISTS:
        return TrainingReport(decisions, 0, 0, 0.0, 0.0, False, None,
                              f"too few decisions to learn from: {decisions} proposals or dismissals in {len(lists)} suggestion lists "
                              f"(need at least {min_decisions} decisions in {2 * MIN_TEST_LISTS} lists); keeping the current ranker")
    cut = max(MIN_TEST_LISTS, int(round(len(lists) * test_share)))
    train_lists, test_lists = lists[:-cut], lists[-cut:]
    current_version, current_weights = active_ranker()
    try:
        learned = fit_pairwise(train_lists)
    except ValueError as exc:
        return TrainingReport(decisions, len(train_lists), len(test_lists), 0.0, 0.0, False, None, f"{exc}; keeping {current_version}")
    vector = np.array([current_weights[f] for f in FEATURES])
    learned_vector = np.array([learned[f] for f in FEATURES])
    ndcg_current = float(np.mean([ndcg_at(r.features @ vector, r.labels) for r in test_lists]))
    ndcg_learned = float(np.mean([ndcg_at(r.features @ learned_vector, r.labels) for r in test_lists]))
    version = f"learned-{utcnow():%Y%m%d%H%M%S}"
    better = ndcg_learned > ndcg_current + 1e-9
    message = (f"learned ranker {version}: nDCG@10 {ndcg_learned:.3f} vs {current_version} {ndcg_current:.3f} "
               f"on {len(test_lists)} newer lists ({decisions} decisions); "
               + ("activated" if better else "not better, so the current ranker stays active"))
    with write_transaction() as session:
        if better:
            session.execute(sa.update(RankerModel).values(active=False))
        session.add(RankerModel(version=version, kind="logistic_pairwise", weights=learned, decisions=decisions, active=better,
                                metrics={"ndcg_learned": ndcg_learned, "ndcg_current": ndcg_current, "baseline": current_version,
                                         "train_lists": len(train_lists), "test_lists": len(test_lists)}, note=message))
    log.info(message)
    return TrainingReport(decisions, len(train_lists), len(test_lists), ndcg_current, ndcg_learned, better, version, message, learned)


def deactivate_all() -> None:
    with write_transaction() as session:
        session.execute(sa.update(RankerModel).values(active=False))


def lists_per_need() -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for need_id in db.session.scalars(sa.select(SuggestionImpression.need_id)):
        counts[need_id] += 1
    return dict(counts)
