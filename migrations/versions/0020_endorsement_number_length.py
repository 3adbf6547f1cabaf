"""An endorsement number fits the longest one the project makes: association code (32), category (16),
year (4) and application id (64, application.schema.json) joined by dashes; 40 characters refused a
decision on PostgreSQL for a long association code or application id.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 00:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('endorsement', schema=None) as batch_op:
        batch_op.alter_column('number', existing_type=sa.String(length=40), type_=sa.String(length=128),
                              existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('endorsement', schema=None) as batch_op:
        batch_op.alter_column('number', existing_type=sa.String(length=128), type_=sa.String(length=40),
                              existing_nullable=True)
