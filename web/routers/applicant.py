"""The applicant's pages (``/apply``): start or resume by email, the portfolio section by section with
its live checklist, submission, and afterwards where the application stands. Handlers translate HTTP
to the verbs of ``tasks.portal`` and render ``templates/applicant/``; they hold no business logic.

Every page behind a link gives the same 404 for an unknown, expired or replaced link; every form
carries a CSRF token bound to the link (the start page, which has no link, a double-submit cookie).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from endorse.auth import same_secret
from endorse.documents import DocumentError
from tasks import portal
from tasks.config import PipelineConfig
from tasks.references.raters import ProposedRater
from web.forms import read_form
from web.guard import DbId

router = APIRouter(prefix="/apply")
START_COOKIE = "apply_csrf"
SECTION_ORDER = {"application": ("details", "education", "training", "work", "rsc", "leadership_activities",
                                 "memberships", "references", "questions", "agreements"),
                 "renewal": ("details", "training", "rsc", "memberships", "agreements")}
SECTION_TITLES = {"details": "You and your category", "questions": "Questions for the coordinator",
                  "agreements": "Agreements"}


def web_context(request: Request):
    return request.app.state.web_context


def pages(request: Request) -> Jinja2Templates:
    """Applicant templates, over the shared base (autoescape is on for .html)."""
    cached = getattr(request.app.state, "applicant_pages", None)
    if cached is None:
        root = request.app.state.templates_dir
        cached = Jinja2Templates(directory=[f"{root}/applicant", f"{root}/pages"])
        request.app.state.applicant_pages = cached
    return cached


Ctx = Annotated[object, Depends(web_context)]
Pages = Annotated[Jinja2Templates, Depends(pages)]


def csrf_for(secret_key: str, token: str) -> str:
    # Bound to the link: a form posted from elsewhere cannot know it.
    return hmac.new(secret_key.encode(), b"csrf:apply:" + token.encode(), hashlib.sha256).hexdigest()[:32]


def _message(templates: Jinja2Templates, request: Request, title: str, *paragraphs: str, status: int = 200):
    return templates.TemplateResponse(request, "message.html", {"title": title, "paragraphs": paragraphs},
                                      status_code=status)


def _not_found(templates: Jinja2Templates, request: Request):
    # The same page for unknown, expired, replaced or mistyped links: no hint which.
    return _message(templates, request, "This link does not work",
                    "The link may have expired or been replaced by a newer one.",
                    "Ask for a new one on the start page (/apply) with the same email address.", status=404)


def _stale(templates: Jinja2Templates, request: Request):
    return _message(templates, request, "Please try again", "The form was out of date. Open the link again.",
                    status=403)


def _access(token: str) -> portal.Access:
    return portal.Access(token=token)


def _order(kind: str) -> tuple[str, ...]:
    return SECTION_ORDER[kind]


def _render(request: Request, ctx, templates: Jinja2Templates, token: str, section: str, *, errors=None, values=None,
            notice: str = "", status: int = 200, report: list[str] | None = None):
    today: date = ctx.today()
    with ctx.sessions() as s:
        page = portal.portfolio_page(s, _access(token), ctx.library, today)
    if page.status == "submitted" and section != "status":
        return RedirectResponse(f"/apply/{token}", status_code=303)
    order = _order(page.kind)
    if section not in order and section != "submit":
        return _not_found(templates, request)
    titles = {**{k: v.title for k, v in page.sections.items()}, **SECTION_TITLES}
    return templates.TemplateResponse(request, "portfolio.html", {
        "page": page, "section": section, "order": order, "titles": titles, "base": f"/apply/{token}",
        "csrf": csrf_for(ctx.secret_key, token), "errors": errors or {}, "values": values or {}, "notice": notice,
        "report": report or [], "spec": page.sections.get(section)}, status_code=status)


async def _checked_form(request: Request, ctx, token: str):
    """The posted form when the link works and the CSRF token matches; else the refusal to answer with."""
    templates = pages(request)
    form = await read_form(request)
    with ctx.sessions() as s:
        try:
            portal.locate(s, _access(token), ctx.today())
        except portal.PortfolioNotFound:
            return None, _not_found(templates, request)
    if not same_secret(str(form.get("csrf", "")), csrf_for(ctx.secret_key, token)):
        return None, _stale(templates, request)
    return form, None


NOTICES = {"saved": "Saved. The checklist is up to date.", "removed": "Removed.",
           "submitted": "Submitted. Thank you.", "rater": "Your rater is asked: they get an email with their link."}


# --- start and resume ---------------------------------------------------------------------------------


def _associations(ctx) -> dict[str, str]:
    with ctx.sessions() as s:
        return portal.associations_taking_applications(s, ctx.library)


@router.get("", response_class=HTMLResponse)
async def start_page(request: Request, ctx: Ctx, templates: Pages):
    cookie = request.cookies.get(START_COOKIE) or secrets.token_urlsafe(24)
    response = templates.TemplateResponse(request, "start.html", {
        "associations": _associations(ctx), "csrf": cookie, "errors": {}, "values": {}})
    response.set_cookie(START_COOKIE, cookie, httponly=True, samesite="strict", path="/apply",
                        secure=request.url.scheme == "https")
    return response


@router.post("", response_class=HTMLResponse)
async def start_request(request: Request, ctx: Ctx, templates: Pages):
    form = await read_form(request)
    cookie = request.cookies.get(START_COOKIE, "")
    if not cookie or not same_secret(str(form.get("csrf", "")), cookie):
        return _stale(templates, request)
    values = {k: str(form.get(k, "")).strip()[:254] for k in ("email", "association", "kind")}
    try:
        portal.request_link(ctx.sessions, ctx.library, email=values["email"], association=values["association"],
                            kind=values["kind"] or "application", as_of=ctx.today(), secret_key=ctx.secret_key)
    except ValueError as exc:
        field, _, why = str(exc).partition(": ")
        return templates.TemplateResponse(request, "start.html", {
            "associations": _associations(ctx), "csrf": cookie, "errors": {field: why}, "values": values},
            status_code=422)
    # The same answer whoever the address belongs to: only its mailbox learns more.
    return _message(templates, request, "Check your email",
                    f"If {values['email']} can use it, a link to your "
                    f"{'renewal' if values['kind'] == 'renewal' else 'application'} is on its way.",
                    "It can take a few minutes. Nothing arrived? Check the spam folder, or ask again here in ten minutes.")


# --- the portfolio -----------------------------------------------------------------------------------------


@router.get("/{token}", response_class=HTMLResponse)
async def portfolio_home(request: Request, token: str, ctx: Ctx, templates: Pages, notice: str = ""):
    try:
        with ctx.sessions() as s:
            page = portal.portfolio_page(s, _access(token), ctx.library, ctx.today())
            status = portal.application_status(s, _access(token), ctx.today()) \
                if page.status == "submitted" and page.kind == "application" else None
    except portal.PortfolioNotFound:
        return _not_found(templates, request)
    if page.status == "submitted":
        return templates.TemplateResponse(request, "status.html", {
            "page": page, "status": status, "base": f"/apply/{token}", "csrf": csrf_for(ctx.secret_key, token),
            "notice": NOTICES.get(notice, ""), "errors": {}, "values": {}})
    return RedirectResponse(f"/apply/{token}/s/{_order(page.kind)[0]}" + (f"?notice={notice}" if notice else ""),
                            status_code=303)


@router.get("/{token}/s/{section}", response_class=HTMLResponse)
async def section_page(request: Request, token: str, section: str, ctx: Ctx, templates: Pages, notice: str = ""):
    try:
        return _render(request, ctx, templates, token, section, notice=NOTICES.get(notice, ""))
    except portal.PortfolioNotFound:
        return _not_found(templates, request)


def _saved(token: str, section: str, notice: str = "saved") -> RedirectResponse:
    # Post/redirect/get: reloading the page does not post the row again.
    return RedirectResponse(f"/apply/{token}/s/{section}?notice={notice}", status_code=303)


def _refused(templates: Jinja2Templates, request: Request, exc: Exception):
    """A change to a portfolio that is submitted (409), or behind a link that does not work (404)."""
    if isinstance(exc, portal.AlreadySubmitted):
        return _message(templates, request, "Already submitted",
                        "This application is submitted; it changes only if the coordinator reopens it.", status=409)
    return _not_found(templates, request)


@router.post("/{token}/s/{section}/add", response_class=HTMLResponse)
async def add_row(request: Request, token: str, section: str, ctx: Ctx, templates: Pages):
    form, refusal = await _checked_form(request, ctx, token)
    if refusal is not None:
        return refusal
    try:
        with ctx.sessions() as s:
            kind = portal.locate(s, _access(token), ctx.today()).kind
        spec = portal.sections_for(kind).get(section)
        if spec is None:
            return _not_found(templates, request)
        from tasks.portal.fields import form_values

        values = form_values(spec, list(form.multi_items()))
        portal.add_row(ctx.sessions, _access(token), section, values, library=ctx.library, as_of=ctx.today())
    except portal.RowErrors as exc:
        return _render(request, ctx, templates, token, section, errors=exc.errors, values=values, status=422)
    except (portal.AlreadySubmitted, portal.PortfolioNotFound) as exc:
        return _refused(templates, request, exc)
    return _saved(token, section)


@router.post("/{token}/s/{section}/remove/{index}", response_class=HTMLResponse)
async def remove_row(request: Request, token: str, section: str, index: int, ctx: Ctx, templates: Pages):
    form, refusal = await _checked_form(request, ctx, token)
    if refusal is not None:
        return refusal
    try:
        portal.remove_row(ctx.sessions, _access(token), section, index, as_of=ctx.today())
    except portal.RowErrors as exc:
        return _render(request, ctx, templates, token, section, errors=exc.errors, status=409)
    except (portal.AlreadySubmitted, portal.PortfolioNotFound) as exc:
        return _refused(templates, request, exc)
    return _saved(token, section, "removed")


@router.post("/{token}/details", response_class=HTMLResponse)
async def save_details(request: Request, token: str, ctx: Ctx, templates: Pages):
    form, refusal = await _checked_form(request, ctx, token)
    if refusal is not None:
        return refusal
    values = {k: str(v) for k, v in form.multi_items() if isinstance(v, str)}
    try:
        portal.save_details(ctx.sessions, _access(token), values, library=ctx.library, as_of=ctx.today())
    except portal.RowErrors as exc:
        return _render(request, ctx, templates, token, "details", errors=exc.errors, values=values, status=422)
    except (portal.AlreadySubmitted, portal.PortfolioNotFound) as exc:
        return _refused(templates, request, exc)
    return _saved(token, "details")


@router.post("/{token}/agreements", response_class=HTMLResponse)
async def sign_agreements(request: Request, token: str, ctx: Ctx, templates: Pages):
    form, refusal = await _checked_form(request, ctx, token)
    if refusal is not None:
        return refusal
    signed = {k: form.get(k) == "yes" for k in ("code_of_ethics_signed_on", "endorsement_agreement_signed_on")}
    try:
        portal.sign_agreements(ctx.sessions, _access(token), signed, as_of=ctx.today())
    except (portal.AlreadySubmitted, portal.PortfolioNotFound) as exc:
        return _refused(templates, request, exc)
    return _saved(token, "agreements")


@router.post("/{token}/training/upload", response_class=HTMLResponse)
async def upload_training(request: Request, token: str, ctx: Ctx, templates: Pages):
    form, refusal = await _checked_form(request, ctx, token)
    if refusal is not None:
        return refusal
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _render(request, ctx, templates, token, "training", report=["choose a CSV or XLSX file to upload"],
                       status=422)
    data = await upload.read()
    try:
        result = portal.import_training(ctx.sessions, _access(token), upload.filename or "upload", data,
                                        as_of=ctx.today())
    except (portal.AlreadySubmitted, portal.PortfolioNotFound) as exc:
        return _refused(templates, request, exc)
    if result.errors:
        return _render(request, ctx, templates, token, "training", report=result.errors, status=422)
    return _saved(token, "training")


@router.post("/{token}/questions/{question}", response_class=HTMLResponse)
async def upload_description(request: Request, token: str, question: str, ctx: Ctx, templates: Pages):
    form, refusal = await _checked_form(request, ctx, token)
    if refusal is not None:
        return refusal
    upload = form.get("description")
    data = b"" if upload is None or isinstance(upload, str) else await upload.read()
    try:
        portal.upload_description(ctx.sessions, _access(token), question[:64],
                                  "" if isinstance(upload, str) or upload is None else (upload.filename or ""),
                                  "" if isinstance(upload, str) or upload is None else (upload.content_type or ""),
                                  data, library=ctx.library, as_of=ctx.today())
    except portal.RowErrors as exc:
        return _render(request, ctx, templates, token, "questions", errors={question: "; ".join(exc.errors.values())},
                       status=422)
    except (portal.AlreadySubmitted, portal.PortfolioNotFound) as exc:
        return _refused(templates, request, exc)
    return _saved(token, "questions")


@router.post("/{token}/submit", response_class=HTMLResponse)
async def submit(request: Request, token: str, ctx: Ctx, templates: Pages):
    form, refusal = await _checked_form(request, ctx, token)
    if refusal is not None:
        return refusal
    try:
        application_id = portal.submit(ctx.sessions, _access(token), library=ctx.library, as_of=ctx.today())
    except portal.NotReady as exc:
        return _render(request, ctx, templates, token, "submit",
                       report=[f"{r.id.replace('_', ' ')}: {r.detail}" for r in exc.blocking], status=422)
    except (DocumentError, ValueError, LookupError) as exc:
        return _render(request, ctx, templates, token, "submit", report=[str(exc)], status=422)
    except (portal.AlreadySubmitted, portal.PortfolioNotFound) as exc:
        return _refused(templates, request, exc)
    with ctx.sessions() as s:
        kind = portal.locate(s, _access(token), ctx.today()).kind
    if kind == "application":
        ctx.on_event(application_id)  # the pipeline takes it up now, as after an import
    # A renewal met is recorded and closed; one still unmet stays open to add what is missing.
    return RedirectResponse(f"/apply/{token}?notice=submitted", status_code=303)


# --- after submission: raters when the references need them ---------------------------------------------


def _proposed(form) -> ProposedRater:
    endorsement = str(form.get("rater.endorsement", "")) or None
    return ProposedRater(name=str(form.get("rater.name", "")), email=str(form.get("rater.email", "")),
                         role=str(form.get("role", "")), endorsement=endorsement,
                         waived_access=form.get("waived_access") == "yes")


async def _rater_change(request: Request, token: str, ctx, templates: Jinja2Templates, request_id: int | None):
    form, refusal = await _checked_form(request, ctx, token)
    if refusal is not None:
        return refusal
    cfg = PipelineConfig(library=ctx.library, as_of=ctx.today(), secret_key=ctx.secret_key)
    try:
        with ctx.sessions() as s:
            status = portal.application_status(s, _access(token), ctx.today())
            page = portal.portfolio_page(s, _access(token), ctx.library, ctx.today())
        rater = _proposed(form)
        if rater.role not in (page.role_choices or {}):
            raise ValueError("role: choose how they know you")
        if request_id is None:
            portal.applicant_adds_rater(ctx.sessions, _access(token), rater, cfg)
        else:
            portal.applicant_replaces_rater(ctx.sessions, _access(token), request_id, rater, cfg)
    except portal.PortfolioNotFound:
        return _not_found(templates, request)
    except (ValueError, LookupError) as exc:
        field, _, why = str(exc).partition(": ")
        return templates.TemplateResponse(request, "status.html", {
            "page": page, "status": status, "base": f"/apply/{token}", "csrf": csrf_for(ctx.secret_key, token),
            "notice": "", "errors": {field: why or field}, "values": {k: str(v) for k, v in form.multi_items()
                                                                      if isinstance(v, str)}}, status_code=422)
    ctx.on_event(status.application_id)
    return RedirectResponse(f"/apply/{token}?notice=rater", status_code=303)


@router.post("/{token}/raters", response_class=HTMLResponse)
async def add_rater(request: Request, token: str, ctx: Ctx, templates: Pages):
    return await _rater_change(request, token, ctx, templates, None)


@router.post("/{token}/raters/{request_id}/replace", response_class=HTMLResponse)
async def replace_rater(request: Request, token: str, request_id: DbId, ctx: Ctx, templates: Pages):
    return await _rater_change(request, token, ctx, templates, request_id)
