"""achievements: authors and venue (read from pasted citation lines)

Revision ID: phone0001
Revises: queue0001
Create Date: 2026-12-07 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'phone0001'
down_revision = 'queue0001'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN on both SQLite and PostgreSQL: no table rebuild, existing rows get ''.
    op.add_column('achievements', sa.Column('authors', sa.String(length=500), server_default='', nullable=False))
    op.add_column('achievements', sa.Column('venue', sa.String(length=300), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('achievements', schema=None) as batch_op:
        batch_op.drop_column('venue')
        batch_op.drop_column('authors')
