"""Application review: rounds after a "not yet" (the coordinator's recorded determination, with the
rulebook's choice of reviewers then), and the end of an advisor pairing (when, by whom, why).

Revision ID: 0018
Revises: 0016
Create Date: 2026-11-29 23:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'application_review_round',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.String(length=64), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('reviewers', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('opened_by', sa.String(length=254), nullable=False),
        sa.Column('opened_on', sa.Date(), nullable=False),
        sa.CheckConstraint('round >= 2', name=op.f('ck_application_review_round_round')),
        sa.ForeignKeyConstraint(['application_id'], ['application.id'],
                                name=op.f('fk_application_review_round_application_id_application'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_application_review_round')),
        sa.UniqueConstraint('application_id', 'round', name=op.f('uq_application_review_round_application_id_round')),
    )
    with op.batch_alter_table('application_review_round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_review_round_application_id'), ['application_id'], unique=False)
    with op.batch_alter_table('advisor_pairing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('ended_by', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('ended_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('advisor_pairing', schema=None) as batch_op:
        batch_op.drop_column('ended_reason')
        batch_op.drop_column('ended_by')
        batch_op.drop_column('ended_on')
    with op.batch_alter_table('application_review_round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_review_round_application_id'))
    op.drop_table('application_review_round')
