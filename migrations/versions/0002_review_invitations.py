"""Review invitations: one secure link per reviewer and sitting (tokens move off the assignment);
essay flags can be cleared; an essay records how many reviewers it needs (3 after a disagreement).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:25:18.934269
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sitting_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('token_nonce', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_generation', sa.Integer(), nullable=False),
    sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reviewer_id'], ['person.id'], name=op.f('fk_review_invitation_reviewer_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sitting_id'], ['exam_sitting.id'], name=op.f('fk_review_invitation_sitting_id_exam_sitting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_invitation')),
    sa.UniqueConstraint('sitting_id', 'reviewer_id', name=op.f('uq_review_invitation_sitting_id_reviewer_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_review_invitation_token_hash'))
    )
    with op.batch_alter_table('essay', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flag_cleared_by', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('reviewers_needed', sa.Integer(), nullable=False, server_default='2'))

    with op.batch_alter_table('review_assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_reason', sa.Text(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_review_assignment_token_hash'), type_='unique')
        batch_op.drop_column('token_hash')
        batch_op.drop_column('token_expires_at')
        batch_op.drop_column('token_generation')
        batch_op.drop_column('token_nonce')



def downgrade() -> None:
    with op.batch_alter_table('review_assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_nonce', sa.VARCHAR(length=64), nullable=True))
        batch_op.add_column(sa.Column('token_generation', sa.INTEGER(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('token_expires_at', sa.DATETIME(), nullable=True))
        batch_op.add_column(sa.Column('token_hash', sa.VARCHAR(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_review_assignment_token_hash'), ['token_hash'])
        batch_op.drop_column('ended_reason')

    with op.batch_alter_table('essay', schema=None) as batch_op:
        batch_op.drop_column('reviewers_needed')
        batch_op.drop_column('flag_cleared_by')

    op.drop_table('review_invitation')
