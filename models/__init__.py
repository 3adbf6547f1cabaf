"""Typed SQLAlchemy 2.0 models of the whole Endorsement domain (no Prefect, no web stack here)."""

from models.application import (
    Application,
    ApplicationDocumentRow,
    CoordinatorDetermination,
    EducationRecord,
    LeadershipActivity,
    Membership,
    RscRecord,
    TrainingRecord,
    Transcript,
    WorkRecord,
)
from models.application_review import (
    AdvisorNote,
    AdvisorPairing,
    ApplicationReview,
    ApplicationReviewAssignment,
    ApplicationReviewer,
    ApplicationReviewInvitation,
    ApplicationReviewOutcome,
    ApplicationReviewRound,
)
from models.audit import AuditLog, record_audit
from models.base import Base, utcnow
from models.decision import Decision, Renewal
from models.exam import (
    ConflictDeclaration,
    Essay,
    ExamAttempt,
    ExamSitting,
    Review,
    ReviewAssignment,
    ReviewInvitation,
    ReviewerAvailability,
    ReviewerConsoleLink,
    ReviewerProfile,
)
from models.orchestration import ScheduledRun
from models.outbox import OutboxMessage
from models.people import VERIFIED_ORIGINS, Association, CoordinatorAccount, Endorsement, Person, RulebookVersion
from models.portal import Portfolio, PortfolioUpload
from models.references import Rating, RatingAnswer, RaterVetting, ReferenceRequest

__all__ = [
    "AdvisorNote", "AdvisorPairing", "ApplicationReview", "ApplicationReviewAssignment", "ApplicationReviewer",
    "ApplicationReviewInvitation", "ApplicationReviewOutcome", "ApplicationReviewRound",
    "Application", "ApplicationDocumentRow", "Association", "AuditLog", "Base", "ConflictDeclaration",
    "CoordinatorAccount", "CoordinatorDetermination", "Decision", "EducationRecord", "Endorsement", "Essay", "ExamAttempt", "ExamSitting",
    "LeadershipActivity", "Membership", "OutboxMessage", "Person", "Portfolio", "PortfolioUpload", "Rating", "RatingAnswer", "RaterVetting",
    "ReferenceRequest", "Renewal", "Review", "ReviewAssignment", "ReviewInvitation", "ReviewerAvailability", "ReviewerConsoleLink", "ReviewerProfile",
    "RscRecord", "RulebookVersion", "ScheduledRun", "TrainingRecord", "Transcript", "VERIFIED_ORIGINS", "WorkRecord",
    "record_audit", "utcnow",
]
