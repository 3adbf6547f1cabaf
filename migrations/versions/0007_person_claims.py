"""Person claims (issue 13): what an application says about a person is kept on the application
(applicant's, rater's and RS/C provider's name as given, applicant's endorsement as declared), never
written onto the shared person; a person has a home association whose coordinators may change them;
endorsements may be 'recorded' by such a coordinator (verified, like 'granted'); coordinator accounts
get a session version and a sign-in lockout.

Data-preserving: every name as given starts as the person's current name; a declared endorsement that
an application carries (the applicant's, a rater's, a provider's) moves onto it and its person-level
row is dropped; a declared endorsement no application carries stays, as 'declared' (never verified).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('home_association', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_person_home_association_association'), 'association',
                                    ['home_association'], ['code'])
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applicant_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('applicant_endorsement_declared', sa.String(length=16), nullable=True))
    with op.batch_alter_table('reference_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rater_name', sa.String(length=200), nullable=True))
    with op.batch_alter_table('rsc_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_name', sa.String(length=200), nullable=True))
    with op.batch_alter_table('endorsement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recorded_by', sa.String(length=254), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_endorsement_origin'), type_='check')
        batch_op.create_check_constraint('origin', "origin in ('declared','granted','recorded')")
    with op.batch_alter_table('coordinator_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('failed_sign_ins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))

    # Names as given: today's name of the person, for every existing application row.
    op.execute("UPDATE application SET applicant_name = "
               "(SELECT name FROM person WHERE person.id = application.applicant_id)")
    op.execute("UPDATE reference_request SET rater_name = "
               "(SELECT name FROM person WHERE person.id = reference_request.rater_id)")
    op.execute("UPDATE rsc_record SET provider_name = (SELECT name FROM person WHERE person.id = rsc_record.provider_id)")
    # Declared endorsements become claims on the applications that declared them.
    op.execute("UPDATE application SET applicant_endorsement_declared = (SELECT MIN(e.category) FROM endorsement e "
               "WHERE e.person_id = application.applicant_id AND e.origin = 'declared')")
    op.execute("UPDATE reference_request SET rater_endorsement_claimed = (SELECT MIN(e.category) FROM endorsement e "
               "WHERE e.person_id = reference_request.rater_id AND e.origin = 'declared') "
               "WHERE rater_endorsement_claimed IS NULL")
    op.execute("DELETE FROM endorsement WHERE origin = 'declared' AND ("
               "EXISTS (SELECT 1 FROM application a WHERE a.applicant_id = endorsement.person_id "
               "        AND a.applicant_endorsement_declared = endorsement.category) OR "
               "EXISTS (SELECT 1 FROM reference_request r WHERE r.rater_id = endorsement.person_id "
               "        AND r.rater_endorsement_claimed = endorsement.category) OR "
               "EXISTS (SELECT 1 FROM rsc_record p WHERE p.provider_id = endorsement.person_id "
               "        AND p.provider_endorsement = endorsement.category))")
    # Home association: a coordinator's own; else the association of the first application they applied with.
    op.execute("UPDATE person SET home_association = (SELECT c.association_code FROM coordinator_account c "
               "WHERE c.person_id = person.id)")
    op.execute("UPDATE person SET home_association = (SELECT a.association_code FROM application a "
               "WHERE a.applicant_id = person.id ORDER BY a.created_at, a.id LIMIT 1) WHERE home_association IS NULL")

    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.alter_column('applicant_name', existing_type=sa.String(length=200), nullable=False)
    with op.batch_alter_table('reference_request', schema=None) as batch_op:
        batch_op.alter_column('rater_name', existing_type=sa.String(length=200), nullable=False)
    with op.batch_alter_table('rsc_record', schema=None) as batch_op:
        batch_op.alter_column('provider_name', existing_type=sa.String(length=200), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('coordinator_account', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_sign_ins')
        batch_op.drop_column('session_version')
    op.execute("DELETE FROM endorsement WHERE origin = 'recorded'")
    with op.batch_alter_table('endorsement', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_endorsement_origin'), type_='check')
        batch_op.create_check_constraint('origin', "origin in ('declared','granted')")
        batch_op.drop_column('recorded_by')
    with op.batch_alter_table('rsc_record', schema=None) as batch_op:
        batch_op.drop_column('provider_name')
    with op.batch_alter_table('reference_request', schema=None) as batch_op:
        batch_op.drop_column('rater_name')
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_column('applicant_endorsement_declared')
        batch_op.drop_column('applicant_name')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_person_home_association_association'), type_='foreignkey')
        batch_op.drop_column('home_association')
