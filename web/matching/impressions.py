"""What each suggestion list showed, for learning from decisions — written off the read path.

A suggestion page only queues its impression; the rows are written in one transaction after
the response has been sent (``flush_impressions`` is registered with the response's
``call_on_close``), or by whoever calls :func:`flush_impressions` outside a request (the CLI,
the ranker benchmark). A GET of the suggestion page therefore never waits on a write.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from flask import current_app, has_request_context

from matcher.config import RANKER_FEATURES
from models import SuggestionImpression, write_transaction

log = logging.getLogger("matcher.impressions")



def _queue() -> tuple[list[dict], threading.Lock]:
    """This app's queue (never shared between apps, e.g. the tests' many apps in one process)."""
    state = current_app.extensions.setdefault("matcher_impressions", {"rows": [], "lock": threading.Lock()})
    return state["rows"], state["lock"]


def record_impression(need_id: int, viewer_id: int | None, version: str, suggestions) -> None:
    """Queue what was shown: positions, scores and features only (no names, no contacts)."""
    items = []
    for position, suggestion in enumerate(suggestions, start=1):
        features = {r["code"]: float(r["value"]) for r in suggestion.reasons if r["code"] in RANKER_FEATURES}
        items.append({"expert_id": int(suggestion.expert_id), "position": position, "score": float(suggestion.score),
                      "relevance": float(suggestion.relevance), "features": features, "excluded": bool(suggestion.excluded)})
    if not items:
        return
    pending, lock = _queue()
    with lock:
        pending.append({"need_id": need_id, "viewer_id": viewer_id, "ranker_version": version, "items": items})
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
    """Write every queued impression of this app; returns how many were written."""
    pending, lock = _queue()
    with lock:
        batch = list(pending)
        pending.clear()
    if not batch:
        return 0
    try:
        with write_transaction() as session:
            session.add_all(SuggestionImpression(**row) for row in batch)
        return len(batch)
    except sa.exc.IntegrityError:
        pass  # one row's need was deleted meanwhile: write the others one by one
    except sa.exc.SQLAlchemyError:  # the database is away: keep them for the next flush
        log.exception("impressions not written; kept for the next flush")
        with lock:
            pending[:0] = batch
        return 0
    written = 0
    for row in batch:
        try:
            with write_transaction() as session:
                session.add(SuggestionImpression(**row))
            written += 1
        except sa.exc.IntegrityError:
            log.warning("impression of need %s dropped: the need no longer exists", row["need_id"])
    return written
