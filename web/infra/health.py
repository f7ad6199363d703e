"""What ``/healthz`` reports: database reachable, index loaded, index lag."""

from __future__ import annotations

import sqlalchemy as sa

from models import OutboxEntry, db


def index_lag() -> int:
    """Outbox rows not yet applied to the index."""
    return int(db.session.scalar(sa.select(sa.func.count()).where(OutboxEntry.processed_at.is_(None))) or 0)


def health_report() -> dict:
    report: dict = {"status": "ok"}
    try:
        db.session.execute(sa.text("SELECT 1"))
        report["database"] = "ok"
        report["index_lag"] = index_lag()
    except sa.exc.SQLAlchemyError as exc:
        report["status"] = "error"
        report["database"] = f"unreachable: {type(exc).__name__}"
    finally:
        db.session.rollback()
    from ..matching.channels import channel_status
    from ..matching.search import index_status

    report["index"] = index_status()
    try:
        from ..matching.backfill import backfill_status

        report["backfill"] = backfill_status()  # the job's own row: the same on every node
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        report["backfill"] = {"error": type(exc).__name__}
    report["dense_channels"] = channel_status()
    if any(c["status"] != "ok" for c in report["dense_channels"].values()) and report["status"] == "ok":
        report["status"] = "degraded"  # matching goes on with the channels that work
    if not report["index"].get("loaded"):
        report["status"] = "degraded" if report["status"] == "ok" else report["status"]
    return report
