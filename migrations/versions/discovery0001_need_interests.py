"""need_interests: an expert's expressed interest in an open need

Revision ID: discovery0001
Revises: phone0001
Create Date: 2026-12-07 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'discovery0001'
down_revision = 'phone0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('need_interests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.Column('relevance', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['expert_id'], ['expert_profiles.id'], name=op.f('fk_need_interests_expert_id_expert_profiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_need_interests_need_id_needs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_need_interests')),
    sa.UniqueConstraint('need_id', 'expert_id', name='uq_need_interest_pair')
    )
    with op.batch_alter_table('need_interests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_need_interests_expert_id'), ['expert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_need_interests_need_id'), ['need_id'], unique=False)


def downgrade():
    with op.batch_alter_table('need_interests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_need_interests_need_id'))
        batch_op.drop_index(batch_op.f('ix_need_interests_expert_id'))
    op.drop_table('need_interests')
