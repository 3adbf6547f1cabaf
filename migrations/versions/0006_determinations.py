"""Coordinator determinations (issue 12): the answers a coordinator records to the questions the rules
leave to them; the applicant's statement that no supervisor or RS/C provider is available; whether a
leadership activity was part of paid work.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 17:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('coordinator_determination',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.String(length=64), nullable=False),
    sa.Column('question', sa.String(length=64), nullable=False),
    sa.Column('decided_by', sa.String(length=254), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.String(length=254), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_coordinator_determination_application_id_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coordinator_determination')),
    sa.UniqueConstraint('application_id', 'question', 'decided_on', 'decided_by', name=op.f('uq_coordinator_determination_once'))
    )
    with op.batch_alter_table('coordinator_determination', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coordinator_determination_application_id'), ['application_id'], unique=False)

    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('no_supervisor_or_rsc_provider_available', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    with op.batch_alter_table('leadership_activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('part_of_paid_work', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('leadership_activity', schema=None) as batch_op:
        batch_op.drop_column('part_of_paid_work')

    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_column('no_supervisor_or_rsc_provider_available')

    with op.batch_alter_table('coordinator_determination', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coordinator_determination_application_id'))

    op.drop_table('coordinator_determination')
