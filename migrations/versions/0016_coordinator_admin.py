"""Coordinator accounts on the web: the association admin flag, and the emailed link that sets a
password (a nonce and the hash of its token, an expiry).

Revision ID: 0016
Revises: 0014
Create Date: 2026-11-29 21:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('coordinator_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('token_nonce', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_coordinator_account_token_hash'), ['token_hash'])
    # Every association's earliest account becomes its admin, so someone can manage the rest.
    op.execute("UPDATE coordinator_account SET is_admin = (id IN (SELECT min(id) FROM coordinator_account "
               "GROUP BY association_code))")


def downgrade() -> None:
    with op.batch_alter_table('coordinator_account', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_coordinator_account_token_hash'), type_='unique')
        batch_op.drop_column('token_expires_at')
        batch_op.drop_column('token_hash')
        batch_op.drop_column('token_nonce')
        batch_op.drop_column('is_admin')
