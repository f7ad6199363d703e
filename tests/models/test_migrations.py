"""Alembic migrations go down to nothing and back up cleanly, keeping the audit guard."""

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from models import Base, db


def tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_downgrade_to_base_and_upgrade_to_head(ctx):
    assert tables(db.engine) == set(Base.metadata.tables)
    downgrade(revision="base")
    assert tables(db.engine) == set()
    upgrade()
    assert tables(db.engine) == set(Base.metadata.tables)
    with db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO organizations (name, kind, region, description, contact_name, contact_phone, "
                             "contact_email, contact_wechat, created_at) VALUES ('o', 'enterprise', '', '', '', '', '', '', "
                             "CURRENT_TIMESTAMP)"))


def test_each_step_down_and_up_keeps_data_and_the_append_only_trigger(ctx, factory):
    owner = factory.user(role="enterprise")
    expert = factory.user(role="expert")
    need = factory.need(owner)
    with db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO matches (need_id, expert_id, status, closed_reason, version, created_at, updated_at) "
                             "VALUES (:n, :e, 'proposed', '', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                     {"n": need.id, "e": expert.expert_id})
        match_id = conn.execute(sa.text("SELECT id FROM matches")).scalar()
        conn.execute(sa.text("INSERT INTO match_events (match_id, to_status, reason_code, note, created_at) "
                             "VALUES (:m, 'proposed', '', '', CURRENT_TIMESTAMP)"), {"m": match_id})
    downgrade(revision="e14a21fb1f96")  # back to the first schema, through every step
    upgrade()
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM match_events")).scalar() == 1
        assert conn.execute(sa.text("SELECT title FROM needs")).scalar() == need.title
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM match_events"))
    except sa.exc.DatabaseError as exc:
        assert "append-only" in str(exc)
    else:
        raise AssertionError("the audit trail accepted a DELETE after the migrations ran down and up")
