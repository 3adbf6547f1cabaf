"""The coordinator's pages (/coordinator/…): sign-in, the dashboard, an application, exports, and the
actions.

Handlers translate HTTP into calls on ``tasks.coordination.dashboard`` (reading) and the pipeline, rater and exam
services (writing, each in one transaction with its audit entry); they hold no business logic.
Every page and action needs a signed-in coordinator (the ``router``'s dependency; signing in is on
``sign_in_router``) and is scoped to their association; every POST carries a CSRF token bound to the
session (``CoordinatorForm``).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Callable
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from endorse import auth
from endorse.clock import utcnow
from models import Application, ReferenceRequest
from tasks.coordination import accounts
from tasks.coordination import dashboard as views
from tasks.coordination.prefect_links import application_prefect_links
from web.deps import (FLASH_COOKIE, PRE_COOKIE, SESSION_COOKIE, Coordinator, CoordinatorForm, Ctx, Db, NotYours,
                      SignedIn, Site, SiteDep, WebContext, signed_in_coordinator)
from web.forms import read_form
from web.guard import DbId

sign_in_router = APIRouter(prefix="/coordinator")
router = APIRouter(prefix="/coordinator", dependencies=[Depends(signed_in_coordinator)])


def render(request: Request, ctx: WebContext, site: Site, template: str, who: Coordinator, status: int = 200,
           **context) -> HTMLResponse:
    csrf = auth.csrf_token(ctx.secret_key, request.cookies.get(SESSION_COOKIE, ""))
    notice = auth.read_flash(ctx.secret_key, request.cookies.get(SESSION_COOKIE), request.cookies.get(FLASH_COOKIE))
    resp = site.pages.TemplateResponse(request, f"coordinator/{template}", {
        "who": who, "csrf": csrf, "prefect_ui_url": site.prefect_ui_url, "notice": notice, **context},
        status_code=status)
    if FLASH_COOKIE in request.cookies:  # shown once
        resp.delete_cookie(FLASH_COOKIE, path="/coordinator")
    return resp


# --- sign-in ----------------------------------------------------------------------------------------

def pre_session_page(request: Request, ctx: WebContext, site: Site, template: str, status: int = 200,
                     **context) -> HTMLResponse:
    """A page before sign-in (sign-in, forgotten password, setting one): its form's CSRF token is bound
    to a pre-session cookie."""
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(16)
    resp = site.pages.TemplateResponse(request, f"coordinator/{template}", {
        "csrf": auth.csrf_token(ctx.secret_key, "pre:" + pre), **context}, status_code=status)
    resp.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=site.secure_cookies, path="/coordinator")
    return resp


def pre_session_csrf_ok(request: Request, ctx: WebContext, form) -> bool:
    pre = request.cookies.get(PRE_COOKIE)
    return bool(pre) and auth.csrf_ok(ctx.secret_key, "pre:" + pre, form.get("csrf"))


def login_page(request: Request, ctx: WebContext, site: Site, error: str = "", status: int = 200,
               email: str = "", notice: str = "") -> HTMLResponse:
    return pre_session_page(request, ctx, site, "login.html", status, error=error, email=email, notice=notice,
                            next=request.query_params.get("next", "/coordinator/"))


@sign_in_router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, ctx: Ctx, site: SiteDep):
    return login_page(request, ctx, site)


@sign_in_router.post("/login", response_class=HTMLResponse)
async def login(request: Request, ctx: Ctx, site: SiteDep):
    form = await read_form(request)
    if not pre_session_csrf_ok(request, ctx, form):
        return login_page(request, ctx, site, "The sign-in form was out of date; please try again.", status=403)
    email = str(form.get("email", "")).strip().casefold()[:254]
    password = str(form.get("password", ""))[:1024]
    # scrypt is deliberately slow: off the event loop, so one guesser cannot slow every other request.
    signed = await run_in_threadpool(accounts.sign_in, ctx.sessions, email, password)
    if signed is None:
        return login_page(request, ctx, site, "That email and password do not match an active coordinator account "
                                              "(after several failed attempts an account waits a while before the next).",
                          status=401, email=email)
    target = str(form.get("next", "/coordinator/"))
    if not target.startswith("/coordinator/") or target.startswith("//"):
        target = "/coordinator/"  # never redirect off the site
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(SESSION_COOKIE, auth.issue_session(ctx.secret_key, signed.account_id, signed.session_version),
                    max_age=auth.SESSION_SECONDS,
                    httponly=True, samesite="strict", secure=site.secure_cookies, path="/coordinator")
    return resp


@router.post("/logout")
async def logout(ctx: Ctx, who: SignedIn, form: CoordinatorForm):
    accounts.end_sessions(ctx.sessions, who.account_id, actor=f"coordinator:{who.email}")
    resp = RedirectResponse("/coordinator/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/coordinator")
    return resp


# --- reading ------------------------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
async def dashboard_page(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, s: Db):
    from tasks.coordination.finder import waiting_on_me

    board = views.dashboard(s, who.association, ctx.library, ctx.today())
    return render(request, ctx, site, "dashboard.html", who, board=board,
                  waiting=waiting_on_me(s, who.association, ctx.library, ctx.today()))


@router.get("/applications", response_class=HTMLResponse)
async def applications_list(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, s: Db):
    from tasks.coordination.finder import WAITING_ON, BadQuery, Query, find_applications
    from tasks.eligibility.stages import STAGES

    p = request.query_params
    try:
        query = Query(text=p.get("q", "")[:200], stage=p.get("stage", ""), category=p.get("category", ""),
                      waiting=p.get("waiting", ""), overdue=p.get("overdue") == "yes", sort=p.get("sort", "id"),
                      descending=p.get("order") == "desc", page=_whole(p.get("page", "1"), "page"),
                      per_page=_whole(p.get("per_page", "25"), "per page"))
        found = find_applications(s, who.association, query, ctx.today())
        error = ""
    except BadQuery as exc:
        query, found, error = Query(), find_applications(s, who.association, Query(), ctx.today()), str(exc)
    return render(request, ctx, site, "applications.html", who, status=422 if error else 200, query=query, found=found,
                  error=error, stages=STAGES, waiting_on=WAITING_ON)


def _whole(value: str, name: str) -> int:
    from tasks.coordination.finder import BadQuery

    try:
        return int(value)
    except ValueError:
        raise BadQuery(f"{name}: write a whole number") from None


@router.get("/charts/{name}.png")
async def chart(ctx: Ctx, who: SignedIn, name: str, s: Db):
    from tasks.coordination import charts

    board = views.dashboard(s, who.association, ctx.library, ctx.today())
    if name == "pipeline":
        png = charts.pipeline_chart(board.by_stage, f"{who.association}: applications by stage")
    elif name == "reviewer-load":
        png = charts.reviewer_load_chart(board.reviewer_load, f"{who.association}: essay reviewers")
    else:
        raise NotYours(who)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})


def application_or_404(request: Request, ctx: WebContext, site: Site, who: Coordinator, application_id: str,
                       template: str) -> HTMLResponse:
    try:
        from tasks.application_review.coordination import review_summary
        from tasks.decision.decisions import action_support
        from tasks.eligibility.determinations import application_questions

        with ctx.sessions() as s:
            page = views.application_page(s, application_id, who.association)
            questions = application_questions(s, ctx.library, page.app, ctx.today())
            review = review_summary(s, page.app)
            support = action_support(s, page.app, ctx.library, ctx.today())
            # Its runs, its artifact and its events in the Prefect UI (the events over its whole life).
            prefect = application_prefect_links(s, page.app.id, site.prefect_ui_url, utcnow()) \
                if site.prefect_ui_url else {}
    except views.NotYours:
        raise NotYours(who) from None
    return render(request, ctx, site, template, who, page=page, today=ctx.today(), prefect_runs=prefect.get("runs"),
                  prefect=prefect, questions=questions, review=review, support=support)


@router.get("/applications/{application_id}", response_class=HTMLResponse)
async def application(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, application_id: str):
    return application_or_404(request, ctx, site, who, application_id, "application.html")


@router.get("/applications/{application_id}/summary", response_class=HTMLResponse)
async def printable_summary(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, application_id: str):
    return application_or_404(request, ctx, site, who, application_id, "summary.html")


@router.get("/exports/{what}.{fmt}")
async def export(ctx: Ctx, who: SignedIn, what: str, fmt: str, s: Db):
    from tasks.coordination.exports import to_csv_bytes, to_xlsx_bytes

    if what not in ("pipeline", "decisions") or fmt not in ("csv", "xlsx"):
        raise NotYours(who)
    frame = views.pipeline_export_frame(s, who.association, ctx.today()) if what == "pipeline" \
        else views.decisions_frame(s, who.association)
    name = f"{who.association}-{what}-{ctx.today().isoformat()}.{fmt}"
    if fmt == "csv":
        body, media = to_csv_bytes(frame), "text/csv; charset=utf-8"
    else:
        body, media = to_xlsx_bytes(frame, what), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- actions --------------------------------------------------------------------------------------------
# Each action: signed in (the router), CSRF (CoordinatorForm), ownership (else the 404 of NotYours), the
# verb, then back to the application's page with a notice; a verb's ValueError or LookupError is shown.

async def owned_application(ctx: Ctx, who: SignedIn, application_id: str) -> str:
    with ctx.sessions() as s:  # its own short session: the action's verb opens its transaction after
        app_row = s.get(Application, application_id)
        owned = app_row is not None and app_row.association_code == who.association
    if not owned:
        raise NotYours(who)
    return application_id


async def owned_request(ctx: Ctx, who: SignedIn, request_id: DbId) -> str:
    """The application of a reference request of the coordinator's association."""
    with ctx.sessions() as s:
        row = s.execute(select(ReferenceRequest.application_id, Application.association_code)
                        .join(Application, Application.id == ReferenceRequest.application_id)
                        .where(ReferenceRequest.id == request_id)).first()
    if row is None or row[1] != who.association:
        raise NotYours(who)
    return row[0]


def done(request: Request, ctx: WebContext, site: Site, application_id: str, notice: str) -> RedirectResponse:
    ctx.on_event(application_id)  # reconcile now (on Prefect when a server is configured)
    resp = RedirectResponse(f"/coordinator/applications/{quote(application_id)}", status_code=303)
    resp.set_cookie(FLASH_COOKIE, auth.flash_cookie(ctx.secret_key, request.cookies.get(SESSION_COOKIE, ""), notice),
                    max_age=300, httponly=True, samesite="strict", secure=site.secure_cookies, path="/coordinator")
    return resp


def carried_out(request: Request, ctx: WebContext, site: Site, who: Coordinator, application_id: str,
                run: Callable[[], str]) -> HTMLResponse | RedirectResponse:
    try:
        notice = run()
    except (ValueError, LookupError) as exc:
        return render(request, ctx, site, "message.html", who, status=422, title="That did not work",
                      text=str(exc), back=f"/coordinator/applications/{application_id}")
    return done(request, ctx, site, application_id, notice)


def actor(who: Coordinator) -> str:
    return f"coordinator:{who.email}"


def pipeline_cfg(ctx: WebContext, who: Coordinator):
    from tasks.config import PipelineConfig

    return PipelineConfig(library=ctx.library, as_of=ctx.today(), secret_key=ctx.secret_key, actor=actor(who))


def _day(form: dict, key: str) -> date:
    try:
        return date.fromisoformat(form.get(key, "").strip())
    except ValueError:
        raise ValueError(f"{key.replace('_', ' ')}: write a date as YYYY-MM-DD") from None


OwnedApplication = Depends(owned_application)
OwnedRequest = Depends(owned_request)


@router.post("/applications/{application_id}/transcript", response_class=HTMLResponse)
async def record_transcript(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                            application_id: str = OwnedApplication):
    def run() -> str:
        from tasks.transcripts.transcripts import record_transcript as record

        institution = form.get("institution", "").strip()
        if not institution:
            raise ValueError("institution: choose the school whose transcript arrived")
        name = record(ctx.sessions, application_id, institution=institution, official=form.get("official") == "yes",
                      received_on=_day(form, "received_on"), credential=form.get("credential") or None,
                      actor=actor(who))
        return f"Transcript from {name} recorded."

    return carried_out(request, ctx, site, who, application_id, run)


@router.post("/applications/{application_id}/approve-exam", response_class=HTMLResponse)
async def approve_exam(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                       application_id: str = OwnedApplication):
    def run() -> str:
        from tasks.exam.results import approve_for_exam

        approve_for_exam(ctx.sessions, application_id, approved_on=ctx.today(), actor=actor(who), library=ctx.library)
        return "Approved to sit the exam."

    return carried_out(request, ctx, site, who, application_id, run)


@router.get("/applications/{application_id}/decision", response_class=HTMLResponse)
async def decision_preview(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, s: Db,
                           application_id: str = OwnedApplication):
    from tasks.decision.decisions import preview_decision

    preview = preview_decision(s, application_id, ctx.library, ctx.today())
    return render(request, ctx, site, "decision.html", who, status=200 if preview.support.ok else 422,
                  preview=preview)


@router.post("/applications/{application_id}/request-decision", response_class=HTMLResponse)
async def request_decision(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                           application_id: str = OwnedApplication):
    def run() -> str:
        from tasks.decision.decisions import confirm_decision

        if not form.get("digest"):
            raise ValueError("confirmation: open the decision's preview and confirm what it shows")
        preview = confirm_decision(ctx.sessions, application_id, ctx.library, ctx.today(), digest=form["digest"],
                                   actor=actor(who))
        return f"Decision confirmed ({preview.outcome.replace('_', ' ')}): the letter you previewed goes out " \
               "when the pipeline records it."

    return carried_out(request, ctx, site, who, application_id, run)


@router.post("/applications/{application_id}/determine", response_class=HTMLResponse)
async def determine(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                    application_id: str = OwnedApplication):
    def run() -> str:
        from tasks.eligibility.determinations import record_determination

        if form.get("decision") not in ("accepted", "not_accepted"):
            raise ValueError("decision: choose accepted or not accepted")
        record_determination(ctx.sessions, ctx.library, application_id, question=form.get("question", "").strip(),
                             decided_by=who.email, decided_on=_day(form, "decided_on"),
                             accepted=form["decision"] == "accepted",
                             note=form.get("note", "").strip()[:2000] or None, actor=actor(who))
        return f"Determination recorded: {form['decision'].replace('_', ' ')}."

    return carried_out(request, ctx, site, who, application_id, run)


@router.post("/references/{request_id}/vet", response_class=HTMLResponse)
async def vet(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm, request_id: DbId,
              application_id: str = OwnedRequest):
    def run() -> str:
        from tasks.references.raters import vet_rater

        if form.get("decision") not in ("accepted", "rejected"):
            raise ValueError("decision: choose accept or reject")
        vet_rater(ctx.sessions, request_id, coordinator=who.email, vetted_on=_day(form, "vetted_on"),
                  accepted=form["decision"] == "accepted", note=form.get("note", "").strip()[:2000] or None)
        return f"Rater vetting recorded: {form['decision']}."

    return carried_out(request, ctx, site, who, application_id, run)


@router.post("/references/{request_id}/resend", response_class=HTMLResponse)
async def resend(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm, request_id: DbId,
                 application_id: str = OwnedRequest):
    def run() -> str:
        from tasks.references.raters import regenerate_link, resend_link

        if form.get("regenerate") == "yes":
            regenerate_link(ctx.sessions, request_id, pipeline_cfg(ctx, who), actor=actor(who))
            return "A new link was sent; the old one no longer works."
        resend_link(ctx.sessions, request_id, pipeline_cfg(ctx, who), actor=actor(who))
        return "The link was sent again."

    return carried_out(request, ctx, site, who, application_id, run)


@router.post("/references/{request_id}/replace", response_class=HTMLResponse)
async def replace(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm, request_id: DbId,
                  application_id: str = OwnedRequest):
    def run() -> str:
        from tasks.references.raters import ProposedRater, replace_rater

        name, email = form.get("name", "").strip(), form.get("email", "").strip()
        if not name or "@" not in email:
            raise ValueError("name and email: say who the new rater is")
        with ctx.sessions() as s:
            old = s.get(ReferenceRequest, request_id)
            role = form.get("role") or old.role
        new = ProposedRater(name=name[:200], email=email[:254], role=role,
                            endorsement=form.get("endorsement") or None, waived_access=form.get("waived") == "yes")
        replace_rater(ctx.sessions, request_id, new, pipeline_cfg(ctx, who), actor=actor(who),
                      reason=form.get("reason", "").strip()[:2000] or "replaced by the coordinator")
        return f"{name} was asked in place of the previous rater."

    return carried_out(request, ctx, site, who, application_id, run)


@router.post("/applications/{application_id}/raters", response_class=HTMLResponse)
async def add_rater(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                    application_id: str = OwnedApplication):
    def run() -> str:
        from tasks.references.raters import ProposedRater, add_rater as ask

        name, role = form.get("name", "").strip(), form.get("role", "").strip()
        if not name:
            raise ValueError("name: say who the new rater is")
        if not role:
            raise ValueError("role: say how the rater knows the applicant (e.g. supervisor)")
        rater = ProposedRater(name=name[:200], email=form.get("email", "").strip()[:254], role=role[:40],
                              endorsement=form.get("endorsement", "").strip() or None,
                              waived_access=form.get("waived") == "yes")
        ask(ctx.sessions, application_id, rater, pipeline_cfg(ctx, who), actor=actor(who))
        return f"{rater.name} was asked for a rating: a link and an email went out."

    return carried_out(request, ctx, site, who, application_id, run)
