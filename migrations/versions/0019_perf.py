"""Artifacts follow what changed: each application says whether its artifact on the Prefect server is
behind (a sweep publishes only those, a capped number per run).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 23:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Until now every reconcile published its application's artifact: none is behind.
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('artifact_due', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f('ix_application_artifact_due'), ['artifact_due'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_artifact_due'))
        batch_op.drop_column('artifact_due')
