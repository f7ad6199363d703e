"""Channels on one scale, fused by language pair, and the score mapped to a calibrated relevance.

No step here looks at the other candidates of a need: every number is a function of the need
and one expert alone, so one expert's scores compare across needs (event assignment, the
expert's own list of needs, the strong / medium / weak bands).

* **Scales.** Each channel's raw expert-level score (lexical: the share of the need's term
  weight the expert matches; dense: cosine) is mapped linearly so that 0 is the median score of
  an unrelated pair and 1 the median score of a relevant pair, with constants fitted once on
  development data (``python -m benchmarks.fusion_fit``), not per query.
* **Lexical map.** Before scaling, the lexical share goes through a fitted power per language
  pair (``MatcherConfig.lexical_power``; the scale is then that of the mapped value).
* **Fusion.** A weighted sum of the scaled channels with weights per language pair of need and
  expert (``zh-zh``, ``en-en``, ``en-zh``, ``zh-en``); a channel that cannot read one side drops
  out and the others' weights are renormalised, so the scale stays the same.
* **Calibration.** A monotone map (isotonic regression, stored as a piecewise-linear table in
  ``data/calibration/relevance.json``) from the final score to the probability that a
  coordinator would judge the expert relevant; bands are read off that probability.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .paths import DATA_DIR

CALIBRATION_FILE = DATA_DIR / "calibration" / "relevance.json"
# Strong: where the demo judgements hold 99 % relevant pairs (108 suggestions on 94 of 137 needs,
# none judged unrelated); 0.6 let a spring-fatigue expert be "strong" for a spring-inspection need.
BANDS = (("strong", 0.85), ("medium", 0.3), ("weak", 0.0))


def pair_key(need_lang: str, expert_lang: str) -> str:
    need_lang = need_lang if need_lang in ("zh", "en") else "zh"
    expert_lang = expert_lang if expert_lang in ("zh", "en") else need_lang
    return f"{need_lang}-{expert_lang}"


def lexical_value(share: float, power: float = 1.0) -> float:
    """The lexical share through its pair's fitted monotone map ``share ** power`` (power 1:
    unchanged). A power below 1 spreads the small shares and compresses the large ones, which
    vary most with how many distinctive words a need happens to have."""
    return share if power == 1.0 else max(0.0, share) ** power


def scale(value: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return (value - low) / (high - low) if high > low else value


def fuse(raw: Mapping[str, float], scales: Mapping[str, tuple[float, float]], weights: Mapping[str, float]) -> tuple[float, list[tuple[str, float, float]]]:
    """(fused score, [(channel, scaled value, weight)]) over the channels present in ``raw``."""
    present = [(c, w) for c, w in weights.items() if w > 0 and c in raw]
    total = sum(w for _, w in present)
    if total <= 0:
        return 0.0, []
    parts = [(c, scale(raw[c], scales[c]), w / total) for c, w in present]
    return sum(v * w for _, v, w in parts), parts


@dataclass(frozen=True)
class Calibration:
    """Piecewise-linear, non-decreasing map from score to probability of relevance."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    fitted_on: str = ""

    def probability(self, score: float) -> float:
        if not self.x:
            return float(min(1.0, max(0.0, score)))
        return float(np.interp(score, self.x, self.y))

    @classmethod
    def fit(cls, scores: list[float], relevant: list[bool], *, fitted_on: str = "", points: int = 40) -> Calibration:
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        xs = np.asarray(scores, dtype=float)
        model.fit(xs, np.asarray(relevant, dtype=float))
        grid = np.unique(np.quantile(xs, np.linspace(0, 1, points)))
        # Strictly increasing (by at most 0.004 in all): a better score never reads as a tie.
        probabilities = np.minimum(1.0, model.predict(grid) + 1e-4 * np.arange(len(grid)))
        return cls(tuple(round(float(v), 5) for v in grid), tuple(round(float(v), 5) for v in probabilities), fitted_on)

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"x": self.x, "y": self.y, "fitted_on": self.fitted_on}, indent=1) + "\n", encoding="utf-8")


@functools.lru_cache(maxsize=4)
def load_calibration(path: Path = CALIBRATION_FILE) -> Calibration:
    if not path.exists():
        return Calibration((), ())
    data = json.loads(path.read_text(encoding="utf-8"))
    return Calibration(tuple(data["x"]), tuple(data["y"]), data.get("fitted_on", ""))


def band(probability: float) -> str:
    for name, floor in BANDS:
        if probability >= floor:
            return name
    return "weak"
