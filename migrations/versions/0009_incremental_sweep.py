"""Incremental sweep: each application keeps the first day its checklist can change by time alone
(and the day that was computed on); a rulebook version records when a full pass last ran under it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 17:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_check_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('checked_as_of', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_application_next_check_on'), ['next_check_on'], unique=False)
    with op.batch_alter_table('rulebook_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('full_sweep_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rulebook_version', schema=None) as batch_op:
        batch_op.drop_column('full_sweep_at')
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_next_check_on'))
        batch_op.drop_column('checked_as_of')
        batch_op.drop_column('next_check_on')
