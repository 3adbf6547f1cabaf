"""The applicant's portfolio on the web: start and resume by an emailed link (``access``), the
sections and their rows (``fields``, ``tables``), the draft's live checklist and submission into intake
(``drafts``), and where a submitted application stands (``status``)."""

from tasks.portal.access import Access, PortfolioNotFound, associations_taking_applications, locate, request_link
from tasks.portal.drafts import (
    AlreadySubmitted,
    Checklist,
    NotReady,
    add_row,
    checklist,
    description_for,
    import_training,
    open_questions,
    portfolio_page,
    portfolios_of,
    remove_row,
    role_choices,
    save_details,
    sections_for,
    sign_agreements,
    submit,
    upload_description,
)
from tasks.portal.fields import RowErrors
from tasks.portal.reopen import reopen
from tasks.portal.status import applicant_adds_rater, applicant_replaces_rater, application_status
from tasks.portal.workbook import WorkbookReport, import_workbook, read_applications

__all__ = [
    "Access",
    "AlreadySubmitted",
    "Checklist",
    "NotReady",
    "PortfolioNotFound",
    "RowErrors",
    "WorkbookReport",
    "add_row",
    "applicant_adds_rater",
    "applicant_replaces_rater",
    "associations_taking_applications",
    "application_status",
    "checklist",
    "description_for",
    "import_training",
    "import_workbook",
    "locate",
    "open_questions",
    "portfolio_page", "portfolios_of",
    "read_applications",
    "remove_row",
    "reopen",
    "request_link",
    "role_choices",
    "save_details",
    "sections_for",
    "sign_agreements",
    "submit",
    "upload_description",
]
