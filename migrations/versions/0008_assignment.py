"""Reviewers' optional minimum load (a volunteer who offered should get some work), beside the
maximum load they offer: on the reviewer profile and per sitting, never above the maximum.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 17:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('reviewer_profile', 'reviewer_availability'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('min_load', sa.Integer(), nullable=False, server_default='0'))
            batch_op.create_check_constraint(op.f(f'ck_{table}_min_load'), 'min_load >= 0 and min_load <= max_load')


def downgrade() -> None:
    for table in ('reviewer_availability', 'reviewer_profile'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_min_load'), type_='check')
            batch_op.drop_column('min_load')
