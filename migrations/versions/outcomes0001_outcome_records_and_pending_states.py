"""outcomes confirmed by both sides: match_outcomes, and the pending states of matches

A contract or completion recorded by one side waits in ``contract_by_expert``,
``contract_by_enterprise``, ``completed_by_expert`` or ``completed_by_enterprise`` until the
other side (or a coordinator) confirms it (the lifecycle table, web/domain/lifecycle.py). The
CHECK constraint on matches.status gains these values, edited in place on SQLite as in
c3d9a1e5b7f2 (a batch copy of ``matches`` would trip the append-only triggers of
``match_events``). ``match_outcomes`` holds each step's date, amount (yuan) and note.

Revision ID: outcomes0001
Revises: backfill0001
Create Date: 2026-12-07 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'outcomes0001'
down_revision = 'backfill0001'
branch_labels = None
depends_on = None

CONSTRAINT = "ck_matches_match_status"
BEFORE = ("proposed", "expert_accepted", "expert_declined", "enterprise_accepted", "enterprise_declined", "connected",
          "intent", "contract", "completed", "closed")
PENDING = ("contract_by_expert", "contract_by_enterprise", "completed_by_expert", "completed_by_enterprise")
AFTER = (*BEFORE, *PENDING)


def _in_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _set_allowed(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE matches DROP CONSTRAINT {CONSTRAINT}")
        op.execute(f"ALTER TABLE matches ADD CONSTRAINT {CONSTRAINT} CHECK (status IN ({_in_list(new)}))")
        return
    table_sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'matches'")).scalar()
    old_check, new_check = f"status IN ({_in_list(old)})", f"status IN ({_in_list(new)})"
    if old_check not in table_sql:
        raise RuntimeError(f"matches: the CHECK constraint {CONSTRAINT} is not the expected one: {table_sql}")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'matches'"),
                 {"sql": table_sql.replace(old_check, new_check)})
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = bind.execute(sa.text("PRAGMA integrity_check")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"matches: integrity check failed after the constraint change: {problems}")


def upgrade():
    _set_allowed(BEFORE, AFTER)
    op.create_table(
        'match_outcomes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('match_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('step', sa.String(length=24), nullable=False),
        sa.Column('occurred_on', sa.Date(), nullable=False),
        sa.Column('amount_yuan', sa.BigInteger(), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_side', sa.String(length=24), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_side', sa.String(length=24), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('reject_reason', sa.String(length=40), nullable=False),
        sa.Column('reject_note', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("state IN ('pending', 'counted', 'rejected')", name=op.f('ck_match_outcomes_state')),
        sa.CheckConstraint("amount_yuan IS NULL OR amount_yuan >= 0", name=op.f('ck_match_outcomes_amount')),
        sa.ForeignKeyConstraint(['match_id'], ['matches.id'], name=op.f('fk_match_outcomes_match_id_matches'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['match_events.id'], name=op.f('fk_match_outcomes_event_id_match_events'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_match_outcomes_recorded_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_match_outcomes_decided_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_match_outcomes')),
        sa.UniqueConstraint('event_id', name=op.f('uq_match_outcomes_event_id')),
    )
    with op.batch_alter_table('match_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_outcomes_match_id'), ['match_id'], unique=False)
        batch_op.create_index('ix_match_outcomes_step_state', ['step', 'state'], unique=False)


def downgrade():
    left = op.get_bind().execute(sa.text(f"SELECT count(*) FROM matches WHERE status IN ({_in_list(PENDING)})")).scalar()
    if left:
        raise RuntimeError(f"{left} match(es) await the confirmation of an outcome; confirm or reject them before downgrading")
    with op.batch_alter_table('match_outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_match_outcomes_step_state')
        batch_op.drop_index(batch_op.f('ix_match_outcomes_match_id'))
    op.drop_table('match_outcomes')
    _set_allowed(AFTER, BEFORE)
