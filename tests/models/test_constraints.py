"""Constraints live in the schema: the database refuses what the domain forbids."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from models import (
    Achievement,
    AchievementKind,
    ExpertProfile,
    Match,
    MatchEvent,
    MatchStatus,
    Need,
    OutboxEntry,
    Role,
    User,
    db,
    write_transaction,
)


def test_duplicate_email_is_refused(ctx, factory):
    factory.user(role="coordinator", email="same@test.example.cn")
    with pytest.raises(IntegrityError):
        factory.user(role="coordinator", email="same@test.example.cn")


def test_email_must_be_lowercase(ctx):
    with pytest.raises(IntegrityError):
        with write_transaction() as session:
            session.add(User(email="Upper@test.example.cn", password_hash="x", name="u", role=Role.ADMIN))


def test_unknown_status_value_is_refused_by_the_database(ctx, factory):
    user = factory.user(role="coordinator")
    with pytest.raises(IntegrityError):
        with write_transaction() as session:
            session.execute(sa.text("UPDATE users SET status = 'superuser' WHERE id = :id"), {"id": user.id})


def test_need_requires_an_existing_organisation(ctx):
    with pytest.raises(IntegrityError):
        with write_transaction() as session:
            session.add(Need(organization_id=999_999, title="孤儿需求"))


def test_need_budget_range_must_be_ordered(ctx, factory):
    owner = factory.user(role="enterprise")
    with pytest.raises(IntegrityError):
        factory.need(owner, budget_min=50, budget_max=10)


def test_achievement_year_out_of_range_is_refused(ctx, factory):
    expert = factory.user(role="expert")
    with pytest.raises(IntegrityError):
        factory.achievement(expert, year=1800)


def test_deleting_an_expert_cascades_to_achievements(ctx, factory):
    expert = factory.user(role="expert")
    factory.achievement(expert)
    profile_id = expert.expert_id
    with write_transaction() as session:
        session.execute(sa.delete(ExpertProfile).where(ExpertProfile.id == profile_id))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Achievement)) == 0


def test_a_pair_is_matched_at_most_once(ctx, factory):
    owner = factory.user(role="enterprise")
    expert = factory.user(role="expert")
    need = factory.need(owner)
    with write_transaction() as session:
        session.add(Match(need_id=need.id, expert_id=expert.expert_id, status=MatchStatus.PROPOSED))
    with pytest.raises(IntegrityError):
        with write_transaction() as session:
            session.add(Match(need_id=need.id, expert_id=expert.expert_id, status=MatchStatus.PROPOSED))


def test_match_events_are_append_only(ctx, factory):
    owner = factory.user(role="enterprise")
    expert = factory.user(role="expert")
    need = factory.need(owner)
    with write_transaction() as session:
        match = Match(need_id=need.id, expert_id=expert.expert_id, status=MatchStatus.PROPOSED)
        session.add(match)
        session.flush()
        session.add(MatchEvent(match_id=match.id, to_status="proposed"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with write_transaction() as session:
            session.execute(sa.text("UPDATE match_events SET note = 'rewritten'"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with write_transaction() as session:
            session.execute(sa.text("DELETE FROM match_events"))


def test_changes_to_indexed_entities_write_outbox_rows_in_the_same_transaction(ctx, factory):
    expert = factory.user(role="expert")
    owner = factory.user(role="enterprise")
    factory.achievement(expert, title="钛合金锻造")
    need = factory.need(owner)
    rows = db.session.execute(sa.select(OutboxEntry.entity, OutboxEntry.entity_id)).all()
    assert ("expert", expert.expert_id) in rows
    assert ("need", need.id) in rows


def test_a_rolled_back_change_leaves_no_outbox_row(ctx, factory):
    expert = factory.user(role="expert")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEntry))
    with pytest.raises(RuntimeError):
        with write_transaction() as session:
            session.add(Achievement(expert_id=expert.expert_id, kind=AchievementKind.PATENT, title="未提交"))
            session.flush()
            raise RuntimeError("abort")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEntry)) == before


def test_database_runs_with_the_settings_the_design_requires(ctx):
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            assert int(conn.exec_driver_sql("SHOW server_version_num").scalar()) >= 130000  # DROP DATABASE WITH (FORCE), FOR UPDATE
            assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
            assert conn.exec_driver_sql("SELECT count(*) FROM pg_trigger WHERE tgname = 'match_events_append_only'").scalar() == 1
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
