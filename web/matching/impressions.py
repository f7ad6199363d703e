"""What each suggestion list showed, for learning from decisions — written off the read path.

A suggestion page only queues its impression; the rows are written in one transaction after
the response has been sent (``flush_impressions`` is registered with the response's
``call_on_close``), or by whoever calls :func:`flush_impressions` outside a request (the CLI,
the ranker benchmark). A GET of the suggestion page therefore never waits on a write.
"""

from __future__ import annotations

import logging
import threading

from flask import current_app, has_request_context

from matcher.config import RANKER_FEATURES
from models import SuggestionImpression, write_transaction

log = logging.getLogger("matcher.impressions")

_pending: list[dict] = []
_lock = threading.Lock()


def record_impression(need_id: int, viewer_id: int | None, version: str, suggestions) -> None:
    """Queue what was shown: positions, scores and features only (no names, no contacts)."""
    items = []
    for position, suggestion in enumerate(suggestions, start=1):
        features = {r["code"]: float(r["value"]) for r in suggestion.reasons if r["code"] in RANKER_FEATURES}
        items.append({"expert_id": int(suggestion.expert_id), "position": position, "score": float(suggestion.score),
                      "relevance": float(suggestion.relevance), "features": features, "excluded": bool(suggestion.excluded)})
    if not items:
        return
    with _lock:
        _pending.append({"need_id": need_id, "viewer_id": viewer_id, "ranker_version": version, "items": items})
    if has_request_context():
        app = current_app._get_current_object()
        from flask import after_this_request

        @after_this_request
        def _flush_after(response):
            def flush() -> None:
                with app.app_context():
                    flush_impressions()

            response.call_on_close(flush)
            return response


def flush_impressions() -> int:
    """Write every queued impression; returns how many."""
    with _lock:
        batch = list(_pending)
        _pending.clear()
    if not batch:
        return 0
    try:
        with write_transaction() as session:
            session.add_all(SuggestionImpression(**row) for row in batch)
    except Exception:  # never lose the page over a log row; the next flush retries
        log.exception("impressions not written; kept for the next flush")
        with _lock:
            _pending[:0] = batch
        return 0
    return len(batch)
