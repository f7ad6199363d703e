"""The crash benchmark's checks after the kills: every acknowledged write is in the database,
the database is intact, and after a drain the live index snapshot holds exactly the database's items."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from benchmarks.crash_client import Ledger
from benchmarks.harness import HarnessError, connect, indexer_process

if TYPE_CHECKING:
    from benchmarks.crash import Installation

MATCH_STEPS = ("proposed", "expert_accepted", "connected", "intent", "contract", "completed")


def _json_list(value) -> list:
    """A JSON column as read back: a list on PostgreSQL, its text on SQLite."""
    return value if isinstance(value, list) else json.loads(value or "[]")


def _rev(text: str) -> int:
    found = re.search(r"\[rev=(\d+)\]", text or "")
    return int(found.group(1)) if found else -1


def check_database(inst: Installation, ledger: Ledger) -> dict:
    """Every acknowledged write is in the database; the file is intact."""
    lost: list[dict] = []
    integrity, foreign = _integrity(inst)
    with connect(inst.url) as con:
        last_rev: dict[tuple[str, int], int] = {}
        for ack in ledger.acks:
            op = ack["op"]
            if op == "create_need":
                row = con.execute(sa.text("SELECT title FROM needs WHERE id = :id"), {"id": ack["id"]}).fetchone()
                if row is None or row[0] != ack["title"]:
                    lost.append({**ack, "found": row})
            elif op == "add_achievement":
                if ack["id"] in ledger.uncertain_deletes or ack["id"] in ledger.gone or any(
                        a["op"] == "delete_achievement" and a["id"] == ack["id"] for a in ledger.acks):
                    continue
                row = con.execute(sa.text("SELECT title, expert_id FROM achievements WHERE id = :id"), {"id": ack["id"]}).fetchone()
                if row is None or tuple(row) != (ack["title"], ack["expert_id"]):
                    lost.append({**ack, "found": row})
            elif op == "delete_achievement":
                if con.execute(sa.text("SELECT 1 FROM achievements WHERE id = :id"), {"id": ack["id"]}).fetchone() is not None:
                    lost.append({**ack, "found": "still there"})
            elif op in ("profile", "update_need"):
                key = ("expert" if op == "profile" else "need", ack["id"])
                last_rev[key] = max(last_rev.get(key, -1), ack["rev"])
            elif op == "match":
                row = con.execute(sa.text("SELECT status FROM matches WHERE id = :id"), {"id": ack["id"]}).fetchone()
                event = con.execute(sa.text("SELECT 1 FROM match_events WHERE match_id = :id AND to_status = :status"), {"id": ack["id"], "status": ack["status"]}).fetchone()
                behind = row is None or row[0] not in MATCH_STEPS or MATCH_STEPS.index(row[0]) < MATCH_STEPS.index(ack["status"])
                if behind or event is None:
                    lost.append({**ack, "found": row[0] if row else None, "event": event is not None})
        for (kind, ident), rev in last_rev.items():
            query = "SELECT summary FROM expert_profiles WHERE id = :id" if kind == "expert" else "SELECT description FROM needs WHERE id = :id"
            row = con.execute(sa.text(query), {"id": ident}).fetchone()
            found = _rev(row[0]) if row else None
            # Later, unanswered edits may have been applied too; never an older one.
            if found is None or not rev <= found <= ledger.attempted_rev.get((kind, ident), rev):
                lost.append({"op": "profile" if kind == "expert" else "update_need", "id": ident, "rev": rev, "found": found})
    return {"integrity": integrity, "integrity_ok": integrity == ["ok"], "foreign_key_violations": foreign,
            "lost": len(lost), "lost_details": lost[:20]}


def _integrity(inst: Installation) -> tuple[list[str], int]:
    """SQLite: ``PRAGMA integrity_check`` and ``foreign_key_check``. PostgreSQL: amcheck's
    ``bt_index_check`` on every B-tree index of the schema (the server enforces foreign keys
    itself, so violations are 0 by construction)."""
    if not inst.database_url:
        import sqlite3

        with contextlib.closing(sqlite3.connect(inst.db_path)) as con:
            return [row[0] for row in con.execute("PRAGMA integrity_check")], len(con.execute("PRAGMA foreign_key_check").fetchall())
    with connect(inst.url) as con:
        con.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
        indexes = con.execute(sa.text(
            "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam "
            "WHERE n.nspname = 'public' AND a.amname = 'btree'")).fetchall()
        problems = []
        for oid, name in indexes:
            try:
                con.execute(sa.text("SELECT bt_index_check(:oid, true)"), {"oid": oid})
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                problems.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
                con.rollback()
        con.commit()
    return (problems or ["ok"]), 0


def outbox_lag(inst: Installation) -> int:
    with connect(inst.url) as con:
        return con.execute(sa.text("SELECT count(*) FROM index_outbox WHERE processed_at IS NULL")).scalar()


def drain(inst: Installation, workdir: Path, timeout: float = 900) -> tuple[str, list[str]]:
    """``matcher indexer --once``; when one batch was not enough, the indexer runs until the
    outbox is empty (each start loads the model, so ``--once`` is not repeated)."""
    outputs = [inst.flask("matcher", "indexer", "--once").strip()]
    if outbox_lag(inst) == 0:
        return "once", outputs
    indexer = indexer_process(inst, workdir / "final-indexer.log", MATCHER_INDEXER="process")
    indexer.start()
    deadline = time.monotonic() + timeout
    try:
        while outbox_lag(inst) and time.monotonic() < deadline:
            if not indexer.running:
                raise HarnessError(f"the indexer exited while draining:\n{indexer.tail()}")
            time.sleep(0.5)
    finally:
        indexer.stop()
        outputs.append(indexer.output().strip()[-2000:])
    return "once, then the indexer until the outbox was empty", outputs


def _profile_title(areas: list[str], keywords: list[str], summary: str) -> str:
    joined_areas, joined_keywords = " ; ".join(areas), " ; ".join(keywords)
    return joined_areas or joined_keywords or summary[:60]


def check_index(inst: Installation) -> dict:
    """The live snapshot against the database: item table, counts, vectors, need vectors."""
    from matcher.store import IndexCorrupt, IndexMissing, IndexStore

    problems: list[str] = []
    try:
        snapshot = IndexStore(inst.index_dir).open_current()
    except (IndexMissing, IndexCorrupt) as exc:
        return {"index_matches_db": False, "problems": [f"live snapshot unusable: {type(exc).__name__}: {exc}"]}
    items = json.loads((snapshot.path / "items.json").read_text(encoding="utf-8"))
    alive = [i for i, ok in enumerate(items["alive"]) if ok]
    index_profiles = Counter(items["expert"][i] for i in alive if items["kind"][i] == "profile")
    index_achievements = {(items["expert"][i], str(items["ref"][i])): items["title"][i] for i in alive if items["kind"][i] != "profile"}
    index_profile_titles = {items["expert"][i]: items["title"][i] for i in alive if items["kind"][i] == "profile"}
    with connect(inst.url) as con:
        db_achievements = {(str(e), str(a)): t for a, e, t in con.execute(sa.text("SELECT id, expert_id, title FROM achievements"))}
        db_profile_titles = {}
        for pid, areas, keywords, summary in con.execute(sa.text("SELECT id, research_areas, keywords, summary FROM expert_profiles")):
            areas, keywords = _json_list(areas), _json_list(keywords)
            if areas or keywords or summary:
                db_profile_titles[str(pid)] = _profile_title(areas, keywords, summary or "")
        processed = con.execute(sa.text("SELECT max(id) FROM index_outbox WHERE processed_at IS NOT NULL")).scalar() or 0
        lag = con.execute(sa.text("SELECT count(*) FROM index_outbox WHERE processed_at IS NULL")).scalar()
    if lag:
        problems.append(f"{lag} outbox rows not applied")
    if int(snapshot.manifest.get("watermark", 0)) < processed:
        problems.append(f"watermark {snapshot.manifest.get('watermark')} behind processed outbox row {processed}")
    duplicated = [e for e, c in index_profiles.items() if c > 1]
    if duplicated:
        problems.append(f"experts with several live profile items: {duplicated[:10]}")
    missing = sorted(set(db_achievements) - set(index_achievements))
    extra = sorted(set(index_achievements) - set(db_achievements))
    if missing:
        problems.append(f"{len(missing)} achievements missing from the index, e.g. {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} achievements in the index but not in the database, e.g. {extra[:5]}")
    stale = [k for k in set(db_achievements) & set(index_achievements) if db_achievements[k] != index_achievements[k]]
    if stale:
        problems.append(f"{len(stale)} achievements with an old title in the index, e.g. {stale[:3]}")
    if set(db_profile_titles) != set(index_profile_titles):
        problems.append(f"profile items differ: missing {sorted(set(db_profile_titles) - set(index_profile_titles))[:5]}, "
                        f"extra {sorted(set(index_profile_titles) - set(db_profile_titles))[:5]}")
    old_profiles = [e for e in set(db_profile_titles) & set(index_profile_titles) if db_profile_titles[e] != index_profile_titles[e]]
    if old_profiles:
        problems.append(f"{len(old_profiles)} profiles indexed with old text, e.g. "
                        f"{[(e, index_profile_titles[e], db_profile_titles[e]) for e in old_profiles[:2]]}")
    expected_items, expected_experts = _expected_counts(inst)
    index_experts = len({items["expert"][i] for i in alive})
    if (len(alive), index_experts) != (expected_items, expected_experts):
        problems.append(f"index holds {len(alive)} items of {index_experts} experts, "
                        f"expected_counts() says {expected_items} items of {expected_experts} experts")
    if (snapshot.manifest.get("items"), snapshot.manifest.get("experts")) != (len(alive), index_experts):
        problems.append(f"manifest counts {snapshot.manifest.get('items')}/{snapshot.manifest.get('experts')} "
                        f"disagree with the item table {len(alive)}/{index_experts}")
    problems += _check_vectors(snapshot.path, items, snapshot.manifest)
    problems += _check_need_vectors(inst, snapshot.path, snapshot.manifest)
    return {"index_matches_db": not problems, "problems": problems, "snapshot": snapshot.name,
            "items": len(alive), "experts": index_experts, "achievements": len(index_achievements),
            "watermark": snapshot.manifest.get("watermark"), "built": snapshot.manifest.get("built")}


def _channel_dirs(path: Path, manifest: dict) -> list[tuple[dict, Path]]:
    return [(channel, path / f"dense-{channel['name']}") for channel in manifest.get("channels") or []]


def _check_vectors(path: Path, items: dict, manifest: dict) -> list[str]:
    """Each dense channel's vector table and FAISS index against the item table."""
    import faiss
    import numpy as np

    problems = []
    for channel, sub in _channel_dirs(path, manifest):
        if not (sub / "vectors.npy").exists():
            problems.append(f"dense channel {channel['name']}: no vector table in the snapshot")
            continue
        vectors, alive = np.load(sub / "vectors.npy"), np.load(sub / "alive.npy")
        if len(vectors) != len(items["alive"]) or list(map(bool, alive)) != list(map(bool, items["alive"])):
            problems.append(f"{channel['name']}: vector table ({len(vectors)} rows, {int(alive.sum())} alive) disagrees with "
                            f"the item table ({len(items['alive'])} items, {sum(items['alive'])} alive)")
        ntotal = faiss.read_index(str(sub / "faiss.index")).ntotal
        expected = int(sum(items["alive"]))  # uncovered items hold zero vectors, live ones all
        if ntotal != expected:
            problems.append(f"{channel['name']}: FAISS holds {ntotal} vectors for {expected} live items")
    return problems


def _app_for(inst: Installation):
    from web import create_app
    from web.config import TestingConfig

    cfg = TestingConfig()
    cfg.INSTANCE_DIR = str(inst.root)
    cfg.SQLALCHEMY_DATABASE_URI = inst.url
    cfg.INDEX_DIR = str(inst.index_dir)
    cfg.UPLOAD_DIR = str(inst.root / "uploads")
    return create_app(cfg)


def _expected_counts(inst: Installation) -> tuple[int, int]:
    app = _app_for(inst)
    with app.app_context():
        from models import db
        from web.matching.indexing import expected_counts

        try:
            return expected_counts()
        finally:
            db.session.remove()
            db.engine.dispose()


def _check_need_vectors(inst: Installation, path: Path, manifest: dict) -> list[str]:
    """Need vectors of every dense channel: only open needs, with the current text; every open
    need in a language the channel reads has one."""
    from matcher.dense import DenseChannel
    from matcher.text import detect_language

    app = _app_for(inst)
    with app.app_context():
        from models import Need, NeedStatus, db
        from web.matching.records import need_record

        try:
            records = {str(n.id): need_record(n) for n in db.session.scalars(sa.select(Need).where(Need.status != NeedStatus.CLOSED))}
        finally:
            db.session.remove()
            db.engine.dispose()
    problems = []
    for channel, sub in _channel_dirs(path, manifest):
        name = channel["name"]
        if not (sub / "needs.json").exists():
            problems.append(f"dense channel {name}: no need vectors in the snapshot")
            continue
        stored = json.loads((sub / "needs.json").read_text(encoding="utf-8"))
        fingerprints = dict(zip(stored["ids"], stored["fingerprints"], strict=True))
        not_open = sorted(set(fingerprints) - set(records))
        if not_open:
            problems.append(f"{name}: need vectors for needs that are closed or gone: {not_open[:5]}")
        old = [i for i in set(fingerprints) & set(records) if DenseChannel.fingerprint_of(records[i].text()) != fingerprints[i]]
        if old:
            problems.append(f"{name}: {len(old)} need vectors of an old text, e.g. {old[:5]}")
        languages = set(channel.get("languages") or ())
        missing = sorted(i for i, r in records.items() if i not in fingerprints and detect_language(r.text()) in languages)
        if missing:
            problems.append(f"{name}: {len(missing)} open needs in a language it reads without a vector, e.g. {missing[:5]}")
    return problems


def snapshot_usable(inst: Installation) -> str | None:
    """None when CURRENT names a complete, verified snapshot (or there is none yet); else why not."""
    from matcher.store import IndexCorrupt, IndexMissing, IndexStore

    try:
        IndexStore(inst.index_dir).open_current()
    except IndexMissing as exc:
        return f"IndexMissing: {exc}"
    except IndexCorrupt as exc:
        return f"IndexCorrupt: {exc}"
    return None
