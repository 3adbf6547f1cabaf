"""The applicant's pages (``/apply``): start or resume by email, the portfolio section by section with
its live checklist, submission, and afterwards where the application stands. Handlers translate HTTP
to the verbs of ``tasks.portal`` and render ``templates/applicant/``; they hold no business logic.

The portfolio's handlers serve two doors with one set of functions: the applicant's link
(``/apply/<token>``) and a coordinator filling in a paper application (``/coordinator/portfolios/<id>``,
``web.routers.portfolios``). The ``opened`` dependency says which, and refuses what does not open: an
unknown, expired or replaced link is the one 404 of every link (``LinkNotWorking``); another
association's portfolio is ``NotYours``; a form whose CSRF token (bound to the link, or to the
coordinator's session) does not check out is ``StaleForm``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from endorse import auth
from endorse.documents import DocumentError
from tasks import portal
from tasks.application_review.advisors import notes_for as advisor_notes
from tasks.config import PipelineConfig
from tasks.portal.fields import form_values
from tasks.references.raters import ProposedRater
from web.deps import (
    SESSION_COOKIE,
    Coordinator,
    Ctx,
    LinkNotWorking,
    NotSignedIn,
    NotYours,
    Site,
    SiteDep,
    StaleForm,
    coordinator_of_session,
    csrf_for,
)
from web.forms import read_form
from web.guard import DbId

router = APIRouter(prefix="/apply")
START_COOKIE = "apply_csrf"
SECTION_ORDER = {"application": ("details", "education", "training", "work", "rsc", "leadership_activities",
                                 "memberships", "references", "questions", "agreements"),
                 "renewal": ("details", "training", "rsc", "memberships", "agreements")}
SECTION_TITLES = {"details": "You and your category", "questions": "Questions for the coordinator",
                  "agreements": "Agreements"}
NOTICES = {"saved": "Saved. The checklist is up to date.", "removed": "Removed.",
           "submitted": "Submitted. Thank you.", "rater": "Your rater is asked: they get an email with their link."}


@dataclass(frozen=True)
class Opened:
    """A portfolio as it was opened: through its link, or by a coordinator of its association."""

    access: portal.Access
    base: str  # where its pages are
    csrf: str
    who: Coordinator | None = None


async def opened_portfolio(request: Request, ctx: Ctx) -> Opened:
    params = request.path_params
    if "token" in params:
        token = params["token"]
        access = portal.Access(token=token)
        with ctx.sessions() as s:
            try:
                portal.locate(s, access, ctx.today())
            except portal.PortfolioNotFound:
                raise LinkNotWorking() from None
        return Opened(access, f"/apply/{token}", csrf_for(ctx.secret_key, token))
    who = coordinator_of_session(request, ctx)
    if who is None:
        raise NotSignedIn()
    raw = str(params.get("portfolio_id", ""))
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**31:  # a 32-bit id, as DbId
        raise NotYours(who)
    portfolio_id = int(raw)
    access = portal.Access(portfolio_id=portfolio_id, association=who.association, coordinator=who.email)
    with ctx.sessions() as s:
        try:
            portal.locate(s, access, ctx.today())
        except portal.PortfolioNotFound:
            raise NotYours(who) from None
    return Opened(access, f"/coordinator/portfolios/{portfolio_id}",
                  auth.csrf_token(ctx.secret_key, request.cookies.get(SESSION_COOKIE, "")), who)


OpenedDep = Annotated[Opened, Depends(opened_portfolio)]


async def opened_form(request: Request, opened: OpenedDep) -> FormData:
    """The posted form of an opened portfolio, its CSRF token checked; declared after the portfolio, so
    a link that does not work is a 404 before the form is judged."""
    form = await read_form(request)
    if not auth.same_secret(str(form.get("csrf", "")), opened.csrf):
        raise StaleForm("The form was out of date. Open the page again.", opened.who)
    return form


PortfolioForm = Annotated[FormData, Depends(opened_form)]


def _message(request: Request, site: Site, title: str, *paragraphs: str, status: int = 200) -> HTMLResponse:
    return site.pages.TemplateResponse(request, "public/message.html", {"title": title, "paragraphs": paragraphs},
                                       status_code=status)


def _already_submitted(request: Request, site: Site) -> HTMLResponse:
    return _message(request, site, "Already submitted",
                    "This application is submitted; it changes only if the coordinator reopens it.", status=409)


def _render(request: Request, ctx, site: Site, opened: Opened, section: str, *, errors=None, values=None,
            notice: str = "", status: int = 200, report: list[str] | None = None):
    with ctx.sessions() as s:
        page = portal.portfolio_page(s, opened.access, ctx.library, ctx.today())
    if page.status == "submitted":
        return RedirectResponse(opened.base, status_code=303)
    order = SECTION_ORDER[page.kind]
    if section not in order and section != "submit":
        raise LinkNotWorking()  # no such page behind this link
    titles = {**{k: v.title for k, v in page.sections.items()}, **SECTION_TITLES}
    return site.pages.TemplateResponse(request, "applicant/portfolio.html", {
        "page": page, "section": section, "order": order, "titles": titles, "base": opened.base,
        "csrf": opened.csrf, "who": opened.who, "errors": errors or {}, "values": values or {}, "notice": notice,
        "report": report or [], "spec": page.sections.get(section)}, status_code=status)


def _saved(opened: Opened, section: str, notice: str = "saved") -> RedirectResponse:
    # Post/redirect/get: reloading the page does not post the row again. The notice is a key of NOTICES,
    # never text from the address.
    return RedirectResponse(f"{opened.base}/s/{section}?notice={notice}", status_code=303)


# --- start and resume ---------------------------------------------------------------------------------


def _associations(ctx) -> dict[str, str]:
    with ctx.sessions() as s:
        return portal.associations_taking_applications(s, ctx.library)


@router.get("", response_class=HTMLResponse)
async def start_page(request: Request, ctx: Ctx, site: SiteDep):
    cookie = request.cookies.get(START_COOKIE) or secrets.token_urlsafe(24)
    response = site.pages.TemplateResponse(request, "applicant/start.html", {
        "associations": _associations(ctx), "csrf": cookie, "errors": {}, "values": {}})
    response.set_cookie(START_COOKIE, cookie, httponly=True, samesite="strict", path="/apply",
                        secure=site.secure_cookies)
    return response


@router.post("", response_class=HTMLResponse)
async def start_request(request: Request, ctx: Ctx, site: SiteDep):
    form = await read_form(request)
    cookie = request.cookies.get(START_COOKIE, "")
    # Double-submit: the form's token must be the cookie only this site could have set (SameSite=Strict).
    if not cookie or not auth.same_secret(str(form.get("csrf", "")), cookie):
        raise StaleForm("The form was out of date. Open the start page again.")
    values = {k: str(form.get(k, "")).strip()[:254] for k in ("email", "association", "kind")}
    try:
        portal.request_link(ctx.sessions, ctx.library, email=values["email"], association=values["association"],
                            kind=values["kind"] or "application", as_of=ctx.today(), secret_key=ctx.secret_key)
    except ValueError as exc:
        field, _, why = str(exc).partition(": ")
        return site.pages.TemplateResponse(request, "applicant/start.html", {
            "associations": _associations(ctx), "csrf": cookie, "errors": {field: why}, "values": values},
            status_code=422)
    # The same answer whoever the address belongs to: only its mailbox learns more.
    return _message(request, site, "Check your email",
                    f"If {values['email']} can use it, a link to your "
                    f"{'renewal' if values['kind'] == 'renewal' else 'application'} is on its way.",
                    "It can take a few minutes. Nothing arrived? Check the spam folder, or ask again here in ten minutes.")


# --- the portfolio (registered again under /coordinator/portfolios/<id> by web.routers.portfolios) -------------


async def portfolio_home(request: Request, ctx: Ctx, site: SiteDep, opened: OpenedDep, notice: str = ""):
    with ctx.sessions() as s:
        page = portal.portfolio_page(s, opened.access, ctx.library, ctx.today())
        status = portal.application_status(s, opened.access, ctx.today()) \
            if page.status == "submitted" and page.kind == "application" else None
        # What the applicant's advisors wrote them (tasks/application_review/advisors.py).
        advice = advisor_notes(s, status.application_id) if status is not None else ()
    if page.status == "submitted":
        return site.pages.TemplateResponse(request, "applicant/status.html", {
            "page": page, "status": status, "base": opened.base, "csrf": opened.csrf, "who": opened.who,
            "notice": NOTICES.get(notice, ""), "errors": {}, "values": {}, "advice": advice})
    return RedirectResponse(f"{opened.base}/s/{SECTION_ORDER[page.kind][0]}" + (f"?notice={notice}" if notice in NOTICES
                                                                               else ""), status_code=303)


async def section_page(request: Request, section: str, ctx: Ctx, site: SiteDep, opened: OpenedDep, notice: str = ""):
    return _render(request, ctx, site, opened, section, notice=NOTICES.get(notice, ""))


async def add_row(request: Request, section: str, ctx: Ctx, site: SiteDep, opened: OpenedDep, form: PortfolioForm):
    with ctx.sessions() as s:
        kind = portal.locate(s, opened.access, ctx.today()).kind
    spec = portal.sections_for(kind).get(section)
    if spec is None:
        raise LinkNotWorking()
    values = form_values(spec, list(form.multi_items()))
    try:
        portal.add_row(ctx.sessions, opened.access, section, values, library=ctx.library, as_of=ctx.today())
    except portal.RowErrors as exc:
        return _render(request, ctx, site, opened, section, errors=exc.errors, values=values, status=422)
    except portal.AlreadySubmitted:
        return _already_submitted(request, site)
    return _saved(opened, section)


async def remove_row(request: Request, section: str, index: int, ctx: Ctx, site: SiteDep, opened: OpenedDep,
                     form: PortfolioForm):
    try:
        portal.remove_row(ctx.sessions, opened.access, section, index, as_of=ctx.today())
    except portal.RowErrors as exc:
        return _render(request, ctx, site, opened, section, errors=exc.errors, status=409)
    except portal.AlreadySubmitted:
        return _already_submitted(request, site)
    return _saved(opened, section, "removed")


async def save_details(request: Request, ctx: Ctx, site: SiteDep, opened: OpenedDep, form: PortfolioForm):
    values = {k: str(v) for k, v in form.multi_items() if isinstance(v, str)}
    try:
        portal.save_details(ctx.sessions, opened.access, values, library=ctx.library, as_of=ctx.today())
    except portal.RowErrors as exc:
        return _render(request, ctx, site, opened, "details", errors=exc.errors, values=values, status=422)
    except portal.AlreadySubmitted:
        return _already_submitted(request, site)
    return _saved(opened, "details")


async def sign_agreements(request: Request, ctx: Ctx, site: SiteDep, opened: OpenedDep, form: PortfolioForm):
    signed = {k: form.get(k) == "yes" for k in ("code_of_ethics_signed_on", "endorsement_agreement_signed_on")}
    try:
        portal.sign_agreements(ctx.sessions, opened.access, signed, as_of=ctx.today())
    except portal.AlreadySubmitted:
        return _already_submitted(request, site)
    return _saved(opened, "agreements")


async def upload_training(request: Request, ctx: Ctx, site: SiteDep, opened: OpenedDep, form: PortfolioForm):
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _render(request, ctx, site, opened, "training", report=["choose a CSV or XLSX file to upload"],
                       status=422)
    try:
        result = portal.import_training(ctx.sessions, opened.access, upload.filename or "upload", await upload.read(),
                                        as_of=ctx.today())
    except portal.AlreadySubmitted:
        return _already_submitted(request, site)
    if result.errors:
        return _render(request, ctx, site, opened, "training", report=result.errors, status=422)
    return _saved(opened, "training")


async def upload_description(request: Request, question: str, ctx: Ctx, site: SiteDep, opened: OpenedDep,
                             form: PortfolioForm):
    upload = form.get("description")
    chosen = upload is not None and not isinstance(upload, str)
    try:
        portal.upload_description(ctx.sessions, opened.access, question[:64], (upload.filename or "") if chosen else "",
                                  (upload.content_type or "") if chosen else "", await upload.read() if chosen else b"",
                                  library=ctx.library, as_of=ctx.today())
    except portal.RowErrors as exc:
        return _render(request, ctx, site, opened, "questions", errors={question: "; ".join(exc.errors.values())},
                       status=422)
    except portal.AlreadySubmitted:
        return _already_submitted(request, site)
    return _saved(opened, "questions")


async def submit(request: Request, ctx: Ctx, site: SiteDep, opened: OpenedDep, form: PortfolioForm):
    try:
        application_id = portal.submit(ctx.sessions, opened.access, library=ctx.library, as_of=ctx.today())
    except portal.NotReady as exc:
        return _render(request, ctx, site, opened, "submit",
                       report=[f"{r.id.replace('_', ' ')}: {r.detail}" for r in exc.blocking], status=422)
    except (DocumentError, ValueError, LookupError) as exc:
        return _render(request, ctx, site, opened, "submit", report=[str(exc)], status=422)
    except portal.AlreadySubmitted:
        return _already_submitted(request, site)
    with ctx.sessions() as s:
        kind = portal.locate(s, opened.access, ctx.today()).kind
    if kind == "application":
        ctx.on_event(application_id)  # the pipeline takes it up now, as after an import
    # A renewal met is recorded and closed; one still unmet stays open to add what is missing.
    return RedirectResponse(f"{opened.base}?notice=submitted", status_code=303)


# --- after submission: raters when the references need them ---------------------------------------------


async def _rater_change(request: Request, ctx, site: Site, opened: Opened, form: FormData, request_id: int | None):
    cfg = PipelineConfig(library=ctx.library, as_of=ctx.today(), secret_key=ctx.secret_key)
    with ctx.sessions() as s:
        status = portal.application_status(s, opened.access, ctx.today())
        page = portal.portfolio_page(s, opened.access, ctx.library, ctx.today())
    try:
        rater = ProposedRater(name=str(form.get("rater.name", "")), email=str(form.get("rater.email", "")),
                              role=str(form.get("role", "")), endorsement=str(form.get("rater.endorsement", "")) or None,
                              waived_access=form.get("waived_access") == "yes")
        if rater.role not in (page.role_choices or {}):
            raise ValueError("role: choose how they know you")
        if request_id is None:
            portal.applicant_adds_rater(ctx.sessions, opened.access, rater, cfg)
        else:
            portal.applicant_replaces_rater(ctx.sessions, opened.access, request_id, rater, cfg)
    except (ValueError, LookupError) as exc:
        field, _, why = str(exc).partition(": ")
        return site.pages.TemplateResponse(request, "applicant/status.html", {
            "page": page, "status": status, "base": opened.base, "csrf": opened.csrf, "who": opened.who, "notice": "",
            "errors": {field: why or field},
            "values": {k: str(v) for k, v in form.multi_items() if isinstance(v, str)}}, status_code=422)
    ctx.on_event(status.application_id)
    return RedirectResponse(f"{opened.base}?notice=rater", status_code=303)


async def add_rater(request: Request, ctx: Ctx, site: SiteDep, opened: OpenedDep, form: PortfolioForm):
    return await _rater_change(request, ctx, site, opened, form, None)


async def replace_rater(request: Request, request_id: DbId, ctx: Ctx, site: SiteDep, opened: OpenedDep,
                        form: PortfolioForm):
    return await _rater_change(request, ctx, site, opened, form, request_id)


def add_portfolio_routes(target: APIRouter, key: str) -> None:
    """The portfolio's pages under ``target``, the portfolio named by the path parameter ``key``."""
    page, post = ["GET"], ["POST"]
    for path, endpoint, methods in (
            ("", portfolio_home, page), ("/s/{section}", section_page, page),
            ("/s/{section}/add", add_row, post), ("/s/{section}/remove/{index}", remove_row, post),
            ("/details", save_details, post), ("/agreements", sign_agreements, post),
            ("/training/upload", upload_training, post), ("/questions/{question}", upload_description, post),
            ("/submit", submit, post), ("/raters", add_rater, post), ("/raters/{request_id}/replace", replace_rater, post)):
        target.add_api_route(f"/{{{key}}}{path}", endpoint, methods=methods, response_class=HTMLResponse)


add_portfolio_routes(router, "token")
