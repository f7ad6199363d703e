"""The matching engine: text → tokens → vectors → candidates → ranked, explained matches.

Pure Python; imports nothing from Flask or the web layer.
"""

from .config import MatcherConfig
from .embstore import EmbeddingStore
from .engine import Engine, ModelMismatch, NeedSuggestion, Suggestion
from .records import AchievementRecord, ExpertAttributes, ExpertRecord, NeedRecord

__all__ = [
    "Engine",
    "EmbeddingStore",
    "MatcherConfig",
    "ModelMismatch",
    "Suggestion",
    "NeedSuggestion",
    "ExpertRecord",
    "AchievementRecord",
    "NeedRecord",
    "ExpertAttributes",
]
