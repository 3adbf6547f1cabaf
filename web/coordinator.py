"""The coordinator's pages: sign-in, the dashboard, an application, exports, and the actions.

Handlers translate HTTP into calls on ``tasks.dashboard`` (reading) and the pipeline, rater and exam
services (writing, each in one transaction with its audit entry); they hold no business logic.
Every page and action needs a signed-in coordinator and is scoped to their association; every POST
carries a CSRF token bound to the session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from endorse import auth
from flows.prefect_glue import ui_runs_url
from models import Association, CoordinatorAccount, Person, ReferenceRequest
from tasks import accounts
from tasks import dashboard as views
from web.forms import read_form
from web.guard import DbId

SESSION_COOKIE = "endorse_session"
PRE_COOKIE = "endorse_pre"  # binds the sign-in form's CSRF token before there is a session
FLASH_COOKIE = "endorse_flash"  # the notice after an action, signed by the server


@dataclass(frozen=True)
class Coordinator:
    account_id: int
    name: str
    email: str
    association: str
    association_name: str


def add_coordinator_routes(app: FastAPI, ctx, pages: Jinja2Templates, *, secure_cookies: bool,
                           prefect_ui_url: str | None) -> None:
    secret = ctx.secret_key

    # --- session ---------------------------------------------------------------------------------------

    def current(request: Request) -> Coordinator | None:
        claims = auth.read_session(secret, request.cookies.get(SESSION_COOKIE))
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
        return Coordinator(account.id, person.name, person.email, assoc.code, assoc.name)

    def to_login(request: Request) -> RedirectResponse:
        return RedirectResponse(f"/coordinator/login?next={quote(request.url.path)}", status_code=303)

    def render(request: Request, template: str, who: Coordinator, status: int = 200, **context) -> HTMLResponse:
        csrf = auth.csrf_token(secret, request.cookies.get(SESSION_COOKIE, ""))
        notice = auth.read_flash(secret, request.cookies.get(SESSION_COOKIE), request.cookies.get(FLASH_COOKIE))
        resp = pages.TemplateResponse(request, f"coordinator/{template}", {
            "who": who, "csrf": csrf, "prefect_ui_url": prefect_ui_url, "notice": notice, **context}, status_code=status)
        if FLASH_COOKIE in request.cookies:  # shown once
            resp.delete_cookie(FLASH_COOKIE, path="/coordinator")
        return resp

    def not_found(request: Request, who: Coordinator) -> HTMLResponse:
        return render(request, "not_found.html", who, status=404)

    async def checked_post(request: Request) -> tuple[Coordinator | None, dict, Response | None]:
        """The signed-in coordinator and the form of a POST, or the response refusing it."""
        who = current(request)
        if who is None:
            return None, {}, to_login(request)
        form = await read_form(request)
        if not auth.csrf_ok(secret, request.cookies.get(SESSION_COOKIE), form.get("csrf")):
            return who, {}, render(request, "message.html", who, status=403, title="Please try again",
                                   text="The form was out of date. Open the page again and repeat the action.")
        return who, {k: str(v) for k, v in form.items()}, None

    # --- sign-in ----------------------------------------------------------------------------------------

    def login_page(request: Request, error: str = "", status: int = 200) -> HTMLResponse:
        pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(16)
        resp = pages.TemplateResponse(request, "coordinator/login.html", {
            "csrf": auth.csrf_token(secret, "pre:" + pre), "error": error,
            "next": request.query_params.get("next", "/coordinator/")}, status_code=status)
        resp.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=secure_cookies, path="/coordinator")
        return resp

    @app.get("/coordinator/login", response_class=HTMLResponse)
    async def login_form(request: Request):
        return login_page(request)

    @app.post("/coordinator/login", response_class=HTMLResponse)
    async def login(request: Request):
        form = await read_form(request)
        pre = request.cookies.get(PRE_COOKIE)
        if not pre or not auth.csrf_ok(secret, "pre:" + pre, form.get("csrf")):
            return login_page(request, "The sign-in form was out of date; please try again.", status=403)
        email = str(form.get("email", "")).strip().casefold()[:254]
        password = str(form.get("password", ""))[:1024]
        # scrypt is deliberately slow: off the event loop, so one guesser cannot slow every other request.
        signed = await run_in_threadpool(accounts.sign_in, ctx.sessions, email, password)
        if signed is None:
            return login_page(request, "That email and password do not match an active coordinator account "
                                       "(after several failed attempts an account waits a while before the next).",
                              status=401)
        target = str(form.get("next", "/coordinator/"))
        if not target.startswith("/coordinator/") or target.startswith("//"):
            target = "/coordinator/"  # never redirect off the site
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(SESSION_COOKIE, auth.issue_session(secret, signed.account_id, signed.session_version),
                        max_age=auth.SESSION_SECONDS,
                        httponly=True, samesite="strict", secure=secure_cookies, path="/coordinator")
        return resp

    @app.post("/coordinator/logout")
    async def logout(request: Request):
        who, _, refusal = await checked_post(request)
        if refusal is not None:
            return refusal
        accounts.end_sessions(ctx.sessions, who.account_id, actor=f"coordinator:{who.email}")
        resp = RedirectResponse("/coordinator/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/coordinator")
        return resp

    # --- reading ------------------------------------------------------------------------------------------

    @app.get("/coordinator/", response_class=HTMLResponse)
    async def dashboard_page(request: Request):
        who = current(request)
        if who is None:
            return to_login(request)
        with ctx.sessions() as s:
            board = views.dashboard(s, who.association, ctx.library, ctx.today())
        return render(request, "dashboard.html", who, board=board)

    @app.get("/coordinator/charts/{name}.png")
    async def chart(request: Request, name: str):
        from tasks import charts

        who = current(request)
        if who is None:
            return to_login(request)
        with ctx.sessions() as s:
            board = views.dashboard(s, who.association, ctx.library, ctx.today())
        if name == "pipeline":
            png = charts.pipeline_chart(board.by_stage, f"{who.association}: applications by stage")
        elif name == "reviewer-load":
            png = charts.reviewer_load_chart(board.reviewer_load, f"{who.association}: essay reviewers")
        else:
            return not_found(request, who)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})

    def application_or_404(request: Request, who: Coordinator, application_id: str, template: str):
        try:
            from tasks.determinations import application_questions

            with ctx.sessions() as s:
                page = views.application_page(s, application_id, who.association)
                questions = application_questions(s, ctx.library, page.app, ctx.today())
            runs = ui_runs_url(prefect_ui_url, page.app.id) if prefect_ui_url else None
            return render(request, template, who, page=page, today=ctx.today(), prefect_runs=runs,
                          questions=questions)
        except views.NotYours:
            return not_found(request, who)

    @app.get("/coordinator/applications/{application_id}", response_class=HTMLResponse)
    async def application(request: Request, application_id: str):
        who = current(request)
        if who is None:
            return to_login(request)
        return application_or_404(request, who, application_id, "application.html")

    @app.get("/coordinator/applications/{application_id}/summary", response_class=HTMLResponse)
    async def printable_summary(request: Request, application_id: str):
        who = current(request)
        if who is None:
            return to_login(request)
        return application_or_404(request, who, application_id, "summary.html")

    @app.get("/coordinator/exports/{what}.{fmt}")
    async def export(request: Request, what: str, fmt: str):
        from tasks.exports import to_csv_bytes, to_xlsx_bytes

        who = current(request)
        if who is None:
            return to_login(request)
        if what not in ("pipeline", "decisions") or fmt not in ("csv", "xlsx"):
            return not_found(request, who)
        with ctx.sessions() as s:
            frame = views.pipeline_export_frame(s, who.association, ctx.today()) if what == "pipeline" \
                else views.decisions_frame(s, who.association)
        name = f"{who.association}-{what}-{ctx.today().isoformat()}.{fmt}"
        if fmt == "csv":
            body, media = to_csv_bytes(frame), "text/csv; charset=utf-8"
        else:
            body, media = to_xlsx_bytes(frame, what), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    # --- actions --------------------------------------------------------------------------------------------

    def owns_application(who: Coordinator, application_id: str) -> bool:
        from models import Application

        with ctx.sessions() as s:
            app_row = s.get(Application, application_id)
            return app_row is not None and app_row.association_code == who.association

    def owns_request(who: Coordinator, request_id: int) -> str | None:
        from models import Application

        with ctx.sessions() as s:
            row = s.execute(select(ReferenceRequest.application_id, Application.association_code)
                            .join(Application, Application.id == ReferenceRequest.application_id)
                            .where(ReferenceRequest.id == request_id)).first()
        return row[0] if row is not None and row[1] == who.association else None

    def done(request: Request, application_id: str, notice: str) -> RedirectResponse:
        ctx.on_event(application_id)  # reconcile now (on Prefect when a server is configured)
        resp = RedirectResponse(f"/coordinator/applications/{quote(application_id)}", status_code=303)
        resp.set_cookie(FLASH_COOKIE, auth.flash_cookie(secret, request.cookies.get(SESSION_COOKIE, ""), notice),
                        max_age=300, httponly=True, samesite="strict", secure=secure_cookies, path="/coordinator")
        return resp

    def refused(request: Request, who: Coordinator, application_id: str, message: str) -> HTMLResponse:
        return render(request, "message.html", who, status=422, title="That did not work",
                      text=message, back=f"/coordinator/applications/{application_id}")

    def pipeline_cfg(who: Coordinator):
        from tasks.pipeline import PipelineConfig

        return PipelineConfig(library=ctx.library, as_of=ctx.today(), secret_key=secret,
                              actor=f"coordinator:{who.email}")

    def action(path: str, run: Callable[[Coordinator, str, dict], str]):
        """An application action: login, CSRF, ownership, the call, then back to the page."""

        async def handler(request: Request, application_id: str):
            who, form, refusal = await checked_post(request)
            if refusal is not None:
                return refusal
            if not owns_application(who, application_id):
                return not_found(request, who)
            try:
                notice = run(who, application_id, form)
            except (ValueError, LookupError) as exc:
                return refused(request, who, application_id, str(exc))
            return done(request, application_id, notice)

        app.post(f"/coordinator/applications/{{application_id}}/{path}", response_class=HTMLResponse)(handler)

    def reference_action(path: str, run: Callable[[Coordinator, int, dict], str]):
        async def handler(request: Request, request_id: DbId):
            who, form, refusal = await checked_post(request)
            if refusal is not None:
                return refusal
            application_id = owns_request(who, request_id)
            if application_id is None:
                return not_found(request, who)
            try:
                notice = run(who, request_id, form)
            except (ValueError, LookupError) as exc:
                return refused(request, who, application_id, str(exc))
            return done(request, application_id, notice)

        app.post(f"/coordinator/references/{{request_id}}/{path}", response_class=HTMLResponse)(handler)

    def _day(form: dict, key: str) -> date:
        try:
            return date.fromisoformat(form.get(key, "").strip())
        except ValueError:
            raise ValueError(f"{key.replace('_', ' ')}: write a date as YYYY-MM-DD") from None

    def record_transcript(who: Coordinator, application_id: str, form: dict) -> str:
        from tasks.pipeline import record_transcript as record

        institution = form.get("institution", "").strip()
        if not institution:
            raise ValueError("institution: choose the school whose transcript arrived")
        name = record(ctx.sessions, application_id, institution=institution, official=form.get("official") == "yes",
                      received_on=_day(form, "received_on"), credential=form.get("credential") or None,
                      actor=f"coordinator:{who.email}")
        return f"Transcript from {name} recorded."

    def approve_exam(who: Coordinator, application_id: str, form: dict) -> str:
        from tasks.pipeline import approve_for_exam

        approve_for_exam(ctx.sessions, application_id, approved_on=ctx.today(), actor=f"coordinator:{who.email}")
        return "Approved to sit the exam."

    def request_decision(who: Coordinator, application_id: str, form: dict) -> str:
        from tasks.pipeline import request_decision as ask

        ask(ctx.sessions, application_id, actor=f"coordinator:{who.email}")
        return "Decision requested: it is recorded at the next reconcile."

    def determine(who: Coordinator, application_id: str, form: dict) -> str:
        from tasks.determinations import record_determination

        if form.get("decision") not in ("accepted", "not_accepted"):
            raise ValueError("decision: choose accepted or not accepted")
        record_determination(ctx.sessions, ctx.library, application_id, question=form.get("question", "").strip(),
                             decided_by=who.email, decided_on=_day(form, "decided_on"),
                             accepted=form["decision"] == "accepted",
                             note=form.get("note", "").strip()[:2000] or None, actor=f"coordinator:{who.email}")
        return f"Determination recorded: {form['decision'].replace('_', ' ')}."

    def vet(who: Coordinator, request_id: int, form: dict) -> str:
        from tasks.raters import vet_rater

        if form.get("decision") not in ("accepted", "rejected"):
            raise ValueError("decision: choose accept or reject")
        vet_rater(ctx.sessions, request_id, coordinator=who.email, vetted_on=_day(form, "vetted_on"),
                  accepted=form["decision"] == "accepted", note=form.get("note", "").strip()[:2000] or None)
        return f"Rater vetting recorded: {form['decision']}."

    def resend(who: Coordinator, request_id: int, form: dict) -> str:
        from tasks.raters import regenerate_link, resend_link

        if form.get("regenerate") == "yes":
            regenerate_link(ctx.sessions, request_id, pipeline_cfg(who), actor=f"coordinator:{who.email}")
            return "A new link was sent; the old one no longer works."
        resend_link(ctx.sessions, request_id, pipeline_cfg(who), actor=f"coordinator:{who.email}")
        return "The link was sent again."

    def replace(who: Coordinator, request_id: int, form: dict) -> str:
        from tasks.raters import ProposedRater, replace_rater

        name, email = form.get("name", "").strip(), form.get("email", "").strip()
        if not name or "@" not in email:
            raise ValueError("name and email: say who the new rater is")
        with ctx.sessions() as s:
            old = s.get(ReferenceRequest, request_id)
            role = form.get("role") or old.role
        new = ProposedRater(name=name[:200], email=email[:254], role=role,
                            endorsement=form.get("endorsement") or None, waived_access=form.get("waived") == "yes")
        replace_rater(ctx.sessions, request_id, new, pipeline_cfg(who), actor=f"coordinator:{who.email}",
                      reason=form.get("reason", "").strip()[:2000] or "replaced by the coordinator")
        return f"{name} was asked in place of the previous rater."

    action("transcript", record_transcript)
    action("approve-exam", approve_exam)
    action("request-decision", request_decision)
    action("determine", determine)
    reference_action("vet", vet)
    reference_action("resend", resend)
    reference_action("replace", replace)
