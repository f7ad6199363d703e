"""match status: drop 'suggested', which nothing ever produced

Suggestions are computed live and shown to coordinators; a match row starts at 'proposed'
(the lifecycle table, web/domain/lifecycle.py). The CHECK constraint on matches.status loses
the value.

On SQLite a CHECK constraint cannot be altered, and rebuilding ``matches`` (a batch copy) would
cascade through ``match_events`` with foreign keys on and trip its append-only triggers. The
table definition is therefore edited in place (SQLite's documented ``writable_schema``
procedure for constraint changes that leave the stored rows valid) after checking that no
row holds the value.

Revision ID: c3d9a1e5b7f2
Revises: f1b47b9ad692
Create Date: 2026-12-04 20:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3d9a1e5b7f2'
down_revision = 'f1b47b9ad692'
branch_labels = None
depends_on = None

CONSTRAINT = "ck_matches_match_status"
KEPT = ("proposed", "expert_accepted", "expert_declined", "enterprise_accepted", "enterprise_declined", "connected",
        "intent", "contract", "completed", "closed")
WITH_SUGGESTED = ("suggested", *KEPT)


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
    left = op.get_bind().execute(sa.text("SELECT count(*) FROM matches WHERE status = 'suggested'")).scalar()
    if left:
        raise RuntimeError(f"{left} match(es) have the status 'suggested'; nothing should have written it — "
                           "close or delete them before upgrading")
    _set_allowed(WITH_SUGGESTED, KEPT)


def downgrade():
    _set_allowed(KEPT, WITH_SUGGESTED)
