"""embedding store in the database, backfill jobs and their batches

Revision ID: backfill0001
Revises: discovery0001
Create Date: 2026-12-07 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'backfill0001'
down_revision = 'discovery0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "embedding_vectors",
        sa.Column("space", sa.String(64), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vec", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("space", "key", name="pk_embedding_vectors"),
    )
    op.create_table(
        "backfill_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("model_spec", sa.String(400), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("spaces", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("total_texts", sa.Integer(), nullable=False),
        sa.Column("done_texts", sa.Integer(), nullable=False),
        sa.Column("embedded_texts", sa.Integer(), nullable=False),
        sa.Column("batches_total", sa.Integer(), nullable=False),
        sa.Column("batches_done", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resumed_at", sa.DateTime(), nullable=False),
        sa.Column("done_at_resume", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.CheckConstraint("state IN ('embedding', 'embedded', 'published', 'failed')",
                           name="ck_backfill_jobs_backfill_state"),
        sa.PrimaryKeyConstraint("id", name="pk_backfill_jobs"),
    )
    op.create_index("ix_backfill_jobs_state", "backfill_jobs", ["state"])
    op.create_table(
        "backfill_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("space", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("embedded", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(120), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["backfill_jobs.id"], ondelete="CASCADE",
                                name="fk_backfill_batches_job_id_backfill_jobs"),
        sa.PrimaryKeyConstraint("id", name="pk_backfill_batches"),
    )
    op.create_index("ix_backfill_batches_job_id", "backfill_batches", ["job_id"])
    op.create_index("ix_backfill_batches_done", "backfill_batches", ["done"])


def downgrade():
    op.drop_table("backfill_batches")
    op.drop_index("ix_backfill_jobs_state", table_name="backfill_jobs")
    op.drop_table("backfill_jobs")
    op.drop_table("embedding_vectors")
