"""Reviewer console: one link per reviewer across sittings and associations, drafts of reviews, a
comment to the coordinator only, edits before the due date, and the exam prompt per track.

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-29 20:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reviewer_console_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reviewer_id', sa.Integer(), nullable=False),
        sa.Column('token_nonce', sa.String(length=64), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('token_generation', sa.Integer(), nullable=False),
        sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['reviewer_id'], ['person.id'], name=op.f('fk_reviewer_console_link_reviewer_id_person'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reviewer_console_link')),
        sa.UniqueConstraint('reviewer_id', name=op.f('uq_reviewer_console_link_reviewer_id')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_reviewer_console_link_token_hash')),
    )
    with op.batch_alter_table('exam_sitting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('essay_prompts', sa.JSON(), nullable=True))
    with op.batch_alter_table('review_assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('draft', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('draft_saved_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confidential_comment', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.drop_column('edited_at')
        batch_op.drop_column('confidential_comment')
    with op.batch_alter_table('review_assignment', schema=None) as batch_op:
        batch_op.drop_column('draft_saved_at')
        batch_op.drop_column('draft')
    with op.batch_alter_table('exam_sitting', schema=None) as batch_op:
        batch_op.drop_column('essay_prompts')
    op.drop_table('reviewer_console_link')
