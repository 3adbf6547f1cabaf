"""What route handlers are given (FastAPI dependencies), so a handler's signature says what it needs:
the app's context, a database session, the signed-in coordinator, the link found by its token, a form
whose CSRF token checked out. Each one that can fail raises one exception of its own, which
``web.errors`` turns into the page to show; handlers never build refusals themselves.

The dependencies that touch the database are ``async`` on purpose: their few milliseconds of work run
inline, because the thread hop a sync dependency gets costs more than it saves at this size.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData

from endorse import auth, clock
from endorse.rulebook import RulebookLibrary
from models import Association, CoordinatorAccount, Person
from tasks import reviewer_console as review_console
from tasks.application_review import advisors
from tasks.application_review import pages as application_review
from tasks.exam import review as essay_review
from tasks.references import ratings
from web.forms import read_form
from web.guard import DbId

SESSION_COOKIE = "endorse_session"
PRE_COOKIE = "endorse_pre"  # binds the sign-in form's CSRF token before there is a session
FLASH_COOKIE = "endorse_flash"  # the notice after an action, signed by the server


@dataclass
class WebContext:
    sessions: sessionmaker[Session]
    library: RulebookLibrary
    secret_key: str
    today: Callable[[], date] = clock.today  # a simulated year moves it (endorse/clock.py)
    on_event: Callable[[str], None] = lambda application_id: None  # e.g. trigger a reconcile on Prefect


@dataclass(frozen=True)
class Site:
    """How the app was assembled: its pages and what the pages and cookies depend on."""
    pages: Jinja2Templates
    secure_cookies: bool = False
    prefect_ui_url: str | None = None
    # Parts of pages rendered once and reused: they depend only on the rules (web/routers/rater.py).
    fragments: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Coordinator:
    account_id: int
    name: str
    email: str
    association: str
    association_name: str
    is_admin: bool = False  # an association admin: manages the association's coordinator accounts


# --- what a request can be refused for (web.errors renders each) ----------------------------------------

class NotSignedIn(Exception):
    """No live coordinator session: the sign-in page, then back to where they were going."""


class LinkNotWorking(Exception):
    """A rating or review link that is unknown, expired or replaced: one 404 page, no hint which."""


class StaleForm(Exception):
    """A posted form whose CSRF token does not check out (403)."""

    def __init__(self, text: str, who: Coordinator | None = None):
        super().__init__(text)
        self.text, self.who = text, who


class NotYours(Exception):
    """A coordinator page or object outside the coordinator's association, or none at all (404)."""

    def __init__(self, who: Coordinator):
        super().__init__(who.association)
        self.who = who


class NotAdmin(Exception):
    """A page only the association's admins may use (403)."""

    def __init__(self, who: Coordinator):
        super().__init__(who.association)
        self.who = who


# --- the app and the database ------------------------------------------------------------------------------

# async: FastAPI runs a plain ``def`` dependency in its thread pool, a hop per request that cost more
# than the rating form's own database read (issue 17).
async def web_context(request: Request) -> WebContext:
    return request.app.state.ctx


async def site(request: Request) -> Site:
    return request.app.state.site


Ctx = Annotated[WebContext, Depends(web_context)]
SiteDep = Annotated[Site, Depends(site)]


async def db_session(ctx: Ctx) -> AsyncIterator[Session]:
    """A session for reading; the verbs that write open their own transaction from ``ctx.sessions``."""
    with ctx.sessions() as s:
        yield s


Db = Annotated[Session, Depends(db_session)]


# --- the coordinator ---------------------------------------------------------------------------------------

def coordinator_of_session(request: Request, ctx: WebContext) -> Coordinator | None:
    claims = auth.read_session(ctx.secret_key, request.cookies.get(SESSION_COOKIE))
    if claims is None:
        return None
    with ctx.sessions() as s:
        row = s.execute(select(CoordinatorAccount, Person, Association)
                        .join(Person, Person.id == CoordinatorAccount.person_id)
                        .join(Association, Association.code == CoordinatorAccount.association_code)
                        .where(CoordinatorAccount.id == claims.account_id)).first()
    if row is None or not row[0].active or row[0].session_version != claims.version:
        return None  # signed out, password changed or deactivated since: the session has ended
    account, person, assoc = row
    return Coordinator(account.id, person.name, person.email, assoc.code, assoc.name, account.is_admin)


async def signed_in_coordinator(request: Request, ctx: Ctx) -> Coordinator:
    """The coordinator of the session cookie, scoped to their association; else ``NotSignedIn``."""
    who = coordinator_of_session(request, ctx)
    if who is None:
        raise NotSignedIn()
    return who


SignedIn = Annotated[Coordinator, Depends(signed_in_coordinator)]


async def signed_in_admin(who: SignedIn) -> Coordinator:
    """The signed-in coordinator, if an admin of their association; else ``NotAdmin``."""
    if not who.is_admin:
        raise NotAdmin(who)
    return who


Admin = Annotated[Coordinator, Depends(signed_in_admin)]


async def coordinator_form(request: Request, ctx: Ctx, who: SignedIn) -> dict[str, str]:
    """A coordinator's posted form, its CSRF token bound to the session; else ``StaleForm``."""
    form = await read_form(request)
    if not auth.csrf_ok(ctx.secret_key, request.cookies.get(SESSION_COOKIE), form.get("csrf")):
        raise StaleForm("The form was out of date. Open the page again and repeat the action.", who)
    return {k: str(v) for k, v in form.items()}


CoordinatorForm = Annotated[dict[str, str], Depends(coordinator_form)]


# --- the links raters and reviewers follow -------------------------------------------------------------------

def csrf_for(secret_key: str, token: str) -> str:
    # Bound to the link: a form posted from elsewhere cannot know it.
    return hmac.new(secret_key.encode(), b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class RatingLink:
    """The rating request behind a link: its form and what the rater has saved so far."""
    token: str
    spec: ratings.RatingFormSpec
    values: ratings.RatingInput


@contextlib.contextmanager
def opened_by_link(ctx: WebContext) -> Iterator[Session]:
    """A session to read what a rating, review or advisor link opens. A link unknown, expired, revoked
    or naming something that is not its holder's is the one ``LinkNotWorking`` (the same page for all,
    so a guessed link learns nothing)."""
    try:
        with ctx.sessions() as s:
            yield s
    except ratings.LinkNotFound:
        raise LinkNotWorking() from None


async def rating_link(token: str, ctx: Ctx) -> RatingLink:
    with opened_by_link(ctx) as s:
        req = ratings.find_request(s, token, ctx.today())
        spec = ratings.form_spec(s, req, ctx.library, ctx.today())
        draft = req.rating
        values = ratings.RatingInput()
        if draft is not None and draft.submitted_at is None:
            values = ratings.RatingInput(
                answers={f"{a.domain_key}/{a.area_key}": ("na" if a.score is None else str(a.score)) for a in draft.answers},
                known_for_months=draft.known_for_months, relationship=draft.relationship_to_applicant,
                recommendation=draft.recommendation, comments=draft.comments, attested=draft.attested)
    return RatingLink(token, spec, values)


RatingLinkDep = Annotated[RatingLink, Depends(rating_link)]


async def reviewer_console(token: str, ctx: Ctx) -> review_console.Console:
    """What a reviewer's link (one sitting, or the console across all) lists."""
    with opened_by_link(ctx) as s:
        return review_console.console(s, token, ctx.library, ctx.today())


@dataclass(frozen=True)
class EssayUnderReview:
    """One essay of a reviewer's link, with the list it belongs to (for progress and "next")."""
    token: str
    page: essay_review.EssayPage
    console: review_console.Console

    @property
    def scope(self) -> essay_review.ReviewerScope:
        return self.console.scope


async def essay_link(token: str, assignment_id: DbId, ctx: Ctx) -> EssayUnderReview:
    """One essay of the reviewer's link; an essay that is not theirs is the same ``LinkNotWorking``."""
    with opened_by_link(ctx) as s:
        listing = review_console.console(s, token, ctx.library, ctx.today())
        page = essay_review.essay_page(s, listing.scope, assignment_id, ctx.library, ctx.today())
    return EssayUnderReview(token, page, listing)


ReviewerConsoleDep = Annotated[review_console.Console, Depends(reviewer_console)]
EssayLink = Annotated[EssayUnderReview, Depends(essay_link)]


async def application_reviewer_home(token: str, ctx: Ctx) -> application_review.ApplicationReviewerHome:
    with opened_by_link(ctx) as s:
        return application_review.reviewer_home(s, token, ctx.library, ctx.today())


async def application_review_link(token: str, assignment_id: DbId, ctx: Ctx) -> application_review.ApplicationReviewPage:
    """One application of the reviewer's link; one that is not theirs is the same ``LinkNotWorking``."""
    with opened_by_link(ctx) as s:
        return application_review.review_page(s, token, assignment_id, ctx.library, ctx.today())


async def advisor_link(token: str, ctx: Ctx) -> advisors.AdvisorPage:
    with opened_by_link(ctx) as s:
        return advisors.advisor_page(s, token, ctx.library, ctx.today())


ApplicationReviewerHomeDep = Annotated[application_review.ApplicationReviewerHome, Depends(application_reviewer_home)]
ApplicationReviewLink = Annotated[application_review.ApplicationReviewPage, Depends(application_review_link)]
AdvisorLink = Annotated[advisors.AdvisorPage, Depends(advisor_link)]


async def link_form(request: Request, token: str, ctx: Ctx) -> FormData:
    """A form posted from a rating or review link, its CSRF token bound to the link; else ``StaleForm``.
    Declared after the link in a handler, so an unknown link is a 404 before the form is judged."""
    form = await read_form(request)
    if not auth.same_secret(str(form.get("csrf", "")), csrf_for(ctx.secret_key, token)):
        raise StaleForm("The form was out of date. Open the link again.")
    return form


LinkForm = Annotated[FormData, Depends(link_form)]
