"""suggestion dismissals (a coordinator's "not this expert", kept for the ranker) and digest marks

Revision ID: queue0001
Revises: c3d9a1e5b7f2
Create Date: 2026-12-07 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'queue0001'
down_revision = 'c3d9a1e5b7f2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('suggestion_dismissals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.Column('reason_code', sa.String(length=40), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('dismissed_by_id', sa.Integer(), nullable=True),
    sa.Column('dismissed_at', sa.DateTime(), nullable=False),
    sa.Column('restored_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_suggestion_dismissals_need_id_needs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['expert_id'], ['expert_profiles.id'], name=op.f('fk_suggestion_dismissals_expert_id_expert_profiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dismissed_by_id'], ['users.id'], name=op.f('fk_suggestion_dismissals_dismissed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestion_dismissals')),
    sa.UniqueConstraint('need_id', 'expert_id', name='uq_dismissal_pair')
    )
    with op.batch_alter_table('suggestion_dismissals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestion_dismissals_need_id'), ['need_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestion_dismissals_expert_id'), ['expert_id'], unique=False)

    op.create_table('digest_marks',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('covered_until', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_digest_marks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_digest_marks'))
    )


def downgrade():
    op.drop_table('digest_marks')
    with op.batch_alter_table('suggestion_dismissals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestion_dismissals_expert_id'))
        batch_op.drop_index(batch_op.f('ix_suggestion_dismissals_need_id'))
    op.drop_table('suggestion_dismissals')
