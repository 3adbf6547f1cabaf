"""Scheduled runs: the last completed sweep, outbox and renewal run, recorded by the flows themselves.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29 17:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheduled_run',
    sa.Column('flow', sa.String(length=64), nullable=False),
    sa.Column('last_completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('flow', name=op.f('pk_scheduled_run'))
    )


def downgrade() -> None:
    op.drop_table('scheduled_run')
