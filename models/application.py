"""An application and the evidence it claims (education, training, work, leadership, RS/C)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.people import Person

STAGES = ("submitted", "transcripts", "references", "eligibility_review", "application_review", "exam", "decision",
          "endorsed", "not_endorsed", "deferred")
_stage_list = ",".join(f"'{s}'" for s in STAGES)


class Application(Base):
    __tablename__ = "application"
    __table_args__ = (
        CheckConstraint(f"stage in ({_stage_list})", name="stage"),
        Index("ix_application_pipeline", "association_code", "category", "stage"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the document's id
    association_code: Mapped[str] = mapped_column(ForeignKey("association.code"))
    category: Mapped[str] = mapped_column(String(16))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    # What this application says about its applicant: a claim on the application, never written onto the
    # person (who may be known to other associations). Pages, letters and exports of this application use it.
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_endorsement_declared: Mapped[str | None] = mapped_column(String(16))
    applicant_is_supervisor: Mapped[bool] = mapped_column(default=False)
    # The applicant states that neither a current supervisor nor an RS/C provider is available.
    no_supervisor_or_rsc_provider_available: Mapped[bool] = mapped_column(default=False)
    stage: Mapped[str] = mapped_column(String(24), default="submitted", index=True)
    stage_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_on: Mapped[date | None]
    code_of_ethics_signed_on: Mapped[date | None]
    endorsement_agreement_signed_on: Mapped[date | None]
    exam_approved_on: Mapped[date | None]
    exam_approved_by: Mapped[str | None] = mapped_column(String(254))
    decision_requested: Mapped[bool] = mapped_column(default=False)
    # Set when something happened that the pipeline should look at; cleared by a reconcile.
    needs_reconcile: Mapped[bool] = mapped_column(default=True, index=True)
    # The first day its checklist can change by time alone, as computed on checked_as_of
    # (tasks/next_check.py); the incremental sweep takes it up on that day. None: not yet computed.
    next_check_on: Mapped[date | None] = mapped_column(index=True)
    checked_as_of: Mapped[date | None]
    # Its artifact on the Prefect server is behind what a coordinator would see (it moved, its checklist
    # changed, or something happened to it): the sweep publishes a capped number per run, oldest
    # change last, and clears this once published (tasks/pipeline/prefect_report.py).
    artifact_due: Mapped[bool] = mapped_column(default=False, index=True)
    document_digest: Mapped[str | None] = mapped_column(String(64))
    last_evaluated_at: Mapped[datetime | None]
    last_checklist: Mapped[list | None]  # the latest evaluation, for the dashboard and artifacts
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Optimistic locking: two writers cannot both move the same application.
    version_id: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version_id}

    applicant: Mapped[Person] = relationship()
    memberships: Mapped[list["Membership"]] = relationship(cascade="all, delete-orphan", order_by="Membership.id")
    education: Mapped[list["EducationRecord"]] = relationship(cascade="all, delete-orphan", order_by="EducationRecord.position")
    training: Mapped[list["TrainingRecord"]] = relationship(cascade="all, delete-orphan", order_by="TrainingRecord.position")
    work: Mapped[list["WorkRecord"]] = relationship(cascade="all, delete-orphan", order_by="WorkRecord.position")
    leadership: Mapped[list["LeadershipActivity"]] = relationship(cascade="all, delete-orphan", order_by="LeadershipActivity.position")
    rsc: Mapped[list["RscRecord"]] = relationship(cascade="all, delete-orphan", order_by="RscRecord.position")


class Membership(Base):
    __tablename__ = "membership"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    association: Mapped[str] = mapped_column(String(32))
    expires_on: Mapped[date]


class EducationRecord(Base):
    __tablename__ = "education_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    institution: Mapped[str] = mapped_column(String(200))
    credential: Mapped[str] = mapped_column(String(32))
    degree: Mapped[str | None] = mapped_column(String(64))
    conferred_on: Mapped[date | None]

    transcript: Mapped["Transcript | None"] = relationship(cascade="all, delete-orphan", uselist=False)


class Transcript(Base):
    """A transcript asked for (requested_on) and, once it arrives, recorded by a coordinator."""

    __tablename__ = "transcript"

    id: Mapped[int] = mapped_column(primary_key=True)
    education_record_id: Mapped[int] = mapped_column(ForeignKey("education_record.id", ondelete="CASCADE"), unique=True)
    official: Mapped[bool] = mapped_column(default=False)
    requested_on: Mapped[date | None]
    received_on: Mapped[date | None]
    recorded_by: Mapped[str | None] = mapped_column(String(254))
    last_reminded_at: Mapped[datetime | None]


class TrainingRecord(Base):
    __tablename__ = "training_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    hours: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    completed_on: Mapped[date]
    topics: Mapped[list] = mapped_column(default=list)


class WorkRecord(Base):
    __tablename__ = "work_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    employer: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    start_on: Mapped[date]
    end_on: Mapped[date | None]
    paid: Mapped[bool] = mapped_column(default=True)
    after: Mapped[str | None] = mapped_column(String(16))
    families_served: Mapped[int | None]
    supervisor_endorsement: Mapped[str | None] = mapped_column(String(16))


class LeadershipActivity(Base):
    __tablename__ = "leadership_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    start_on: Mapped[date | None]
    end_on: Mapped[date | None]
    part_of_paid_work: Mapped[bool | None]


class RscRecord(Base):
    """Reflective supervision/consultation received, as claimed; the provider is a person."""

    __tablename__ = "rsc_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    provider_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    provider_name: Mapped[str] = mapped_column(String(200))  # as given in the document (a claim)
    provider_endorsement: Mapped[str | None] = mapped_column(String(16))  # as claimed in the document
    hours: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    start_on: Mapped[date]
    end_on: Mapped[date]
    format: Mapped[str | None] = mapped_column(String(16))
    after: Mapped[str | None] = mapped_column(String(16))
    about_providing_rsc_hours: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))

    provider: Mapped[Person] = relationship()


class ApplicationDocumentRow(Base):
    """The last imported document, kept verbatim for audit and re-evaluation."""

    __tablename__ = "application_document"
    __table_args__ = (UniqueConstraint("application_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"))
    body: Mapped[dict]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class CoordinatorDetermination(Base):
    """A coordinator's answer to a question the rules leave to them (rules/: determination_questions).

    Kept as history: a later determination of the same question answers it from its date on.
    """

    __tablename__ = "coordinator_determination"
    # A re-imported document does not record the same determination twice (explicit name: PostgreSQL cuts at 63).
    __table_args__ = (UniqueConstraint("application_id", "question", "decided_on", "decided_by",
                                       name="uq_coordinator_determination_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str] = mapped_column(String(254))
    decided_on: Mapped[date]
    accepted: Mapped[bool]
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(254))  # "import" or the coordinator's actor
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
