"""Applicant portal: the applicant's draft portfolio (application or renewal) behind a secure link,
and the short descriptions uploaded for a coordinator's determination.

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-29 19:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portfolio',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('association_code', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('email_normalized', sa.String(length=254), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('application_id', sa.String(length=64), nullable=False),
    sa.Column('endorsement_id', sa.Integer(), nullable=True),
    sa.Column('started_by', sa.String(length=254), nullable=False),
    sa.Column('token_nonce', sa.String(length=64), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('token_generation', sa.Integer(), nullable=False),
    sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind in ('application','renewal')", name=op.f('ck_portfolio_kind')),
    sa.CheckConstraint("status in ('draft','submitted')", name=op.f('ck_portfolio_status')),
    sa.ForeignKeyConstraint(['association_code'], ['association.code'], name=op.f('fk_portfolio_association_code_association')),
    sa.ForeignKeyConstraint(['endorsement_id'], ['endorsement.id'], name=op.f('fk_portfolio_endorsement_id_endorsement'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portfolio')),
    sa.UniqueConstraint('application_id', name=op.f('uq_portfolio_application_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portfolio_token_hash'))
    )
    with op.batch_alter_table('portfolio', schema=None) as batch_op:
        batch_op.create_index('ix_portfolio_owner', ['email_normalized', 'association_code', 'kind'], unique=False)

    op.create_table('portfolio_upload',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portfolio_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=80), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['portfolio_id'], ['portfolio.id'], name=op.f('fk_portfolio_upload_portfolio_id_portfolio'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portfolio_upload'))
    )
    with op.batch_alter_table('portfolio_upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portfolio_upload_portfolio_id'), ['portfolio_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('portfolio_upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portfolio_upload_portfolio_id'))

    op.drop_table('portfolio_upload')
    with op.batch_alter_table('portfolio', schema=None) as batch_op:
        batch_op.drop_index('ix_portfolio_owner')

    op.drop_table('portfolio')
