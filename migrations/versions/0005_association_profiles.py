"""Association profiles: the association row carries its profile (short name, sender, signature,
public address, digest of the profile applied); every outbox message knows whose email it is.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('association', schema=None) as batch_op:
        batch_op.add_column(sa.Column('short_name', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('sender_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('sender_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('signature', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('public_base_url', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('website', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('profile_digest', sa.String(length=64), nullable=True))

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('association_code', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_outbox_message_association_code_association'), 'association',
                                    ['association_code'], ['code'])


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_message_association_code_association'), type_='foreignkey')
        batch_op.drop_column('association_code')

    with op.batch_alter_table('association', schema=None) as batch_op:
        batch_op.drop_column('profile_digest')
        batch_op.drop_column('website')
        batch_op.drop_column('phone')
        batch_op.drop_column('public_base_url')
        batch_op.drop_column('signature')
        batch_op.drop_column('sender_email')
        batch_op.drop_column('sender_name')
        batch_op.drop_column('short_name')
