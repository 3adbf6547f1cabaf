"""The web app: the rater's form behind a secure link. Handlers only translate HTTP to the rating
service (``tasks.references.ratings``) and render templates; they hold no business logic."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
from dataclasses import dataclass
from datetime import date
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from endorse import clock
from endorse.auth import same_secret
from web.health import Check, database_check, readiness
from endorse.rulebook import RulebookLibrary
from tasks.exam import review as essay_review
from tasks.references import ratings
from web.forms import read_form
from web.guard import DbId, SecurityHeaders

MAX_BODY_BYTES = 256 * 1024  # a full rating form is a few kilobytes
_TOKEN_IN_PATH = re.compile(r"(/(?:rate|review)/)[A-Za-z0-9_-]+")


class RedactLinks(logging.Filter):
    """Access logs show /rate/<redacted>: a secure link must never reach a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_PATH.sub(r"\1<redacted>", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_PATH.sub(r"\1<redacted>", record.msg)
        return True


def install_log_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "endorse.web"):
        logging.getLogger(name).addFilter(RedactLinks())


@dataclass
class WebContext:
    sessions: sessionmaker[Session]
    library: RulebookLibrary
    secret_key: str
    today: Callable[[], date] = clock.today  # a simulated year moves it (endorse/clock.py)
    on_event: Callable[[str], None] = lambda application_id: None  # e.g. trigger a reconcile on Prefect


class RateLimit:
    """At most ``per_minute`` requests a minute per client address on the link pages (token bucket),
    so nobody can try link after link. In memory, per worker: enough against guessing 128-bit tokens;
    put a shared limiter in the proxy when running many workers."""

    def __init__(self, app, per_minute: int = 120, prefixes: tuple[str, ...] = ("/rate/", "/review/")):
        self.app, self.rate, self.prefixes = app, per_minute / 60.0, prefixes
        self.capacity = float(per_minute)
        self.buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            import time

            client = (scope.get("client") or ("?", 0))[0]
            now = time.monotonic()
            tokens, last = self.buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1:
                self.buckets[client] = (tokens, now)
                await PlainTextResponse("too many requests; try again in a minute", status_code=429,
                                        headers={"Retry-After": "60"})(scope, receive, send)
                return
            self.buckets[client] = (tokens - 1, now)
            if len(self.buckets) > 50_000:  # forget idle clients
                self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 120}
        await self.app(scope, receive, send)


class LimitBody:
    """Refuse oversized bodies (plain ASGI: no per-request overhead). A declared length is checked
    before reading; a body without one (chunked) is counted as it streams and refused as soon as it
    passes the cap, before the app sees any of it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PlainTextResponse("request body too large", status_code=413)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not re.fullmatch(rb"[0-9]{1,12}", length) or int(length) > MAX_BODY_BYTES):
            await too_large(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # Read the whole (small) body first, counting; then hand it to the app in one piece.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            size += len(message.get("body", b""))
            if size > MAX_BODY_BYTES:
                await too_large(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(ctx: WebContext, templates_dir: str, *, requests_per_minute: int = 120, secure_cookies: bool = False,
               prefect_ui_url: str | None = None, readiness_checks: list[Callable[[], Check]] | None = None) -> FastAPI:
    from web.coordinator import add_coordinator_routes

    install_log_redaction()
    app = FastAPI(title="endorse", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(LimitBody)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RateLimit, per_minute=requests_per_minute,
                       prefixes=("/rate/", "/review/", "/coordinator/login"))
    pages = Jinja2Templates(directory=f"{templates_dir}/pages")  # autoescape is on for .html
    add_coordinator_routes(app, ctx, pages, secure_cookies=secure_cookies, prefect_ui_url=prefect_ui_url)
    from web.front import add_front_pages

    add_front_pages(app, ctx, pages)

    def csrf_for(token: str) -> str:
        # Bound to the link: a form posted from elsewhere cannot know it.
        return hmac.new(ctx.secret_key.encode(), b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:32]

    def message(request: Request, title: str, *paragraphs: str, status: int = 200) -> HTMLResponse:
        return pages.TemplateResponse(request, "message.html", {"title": title, "paragraphs": paragraphs},
                                      status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_address(request: Request, exc: RequestValidationError) -> HTMLResponse:
        # e.g. an essay number that is not a number, or too large to be one: name the part, never a 500.
        fields = ", ".join(dict.fromkeys(str(e["loc"][-1]) for e in exc.errors())) or "address"
        return message(request, "This address does not work", f"The {fields.replace('_', ' ')} in the address is not valid.",
                       status=400)

    def not_found(request: Request) -> HTMLResponse:
        # The same page for unknown, expired, replaced or mistyped links: no hint which.
        return message(request, "This link does not work",
                       "The link may have expired or been replaced by a newer one.",
                       "Please reply to the email you received, and the Endorsement® coordinator will send you a new link.",
                       status=404)

    def thanks(request: Request, declined: bool = False, status: int = 200) -> HTMLResponse:
        if declined:
            return message(request, "Thank you", "We have recorded that you cannot rate this applicant.", status=status)
        return message(request, "Thank you: your rating is submitted",
                       "Your rating has already been submitted. Nothing more is needed from you.", status=status)

    def render_form(request: Request, token: str, spec: ratings.RatingFormSpec, values: ratings.RatingInput,
                    errors: dict[str, str], saved: bool = False, status: int = 200) -> HTMLResponse:
        scale = spec.scale
        options = [(str(v), f"{v} · {scale['labels'].get(str(v), '')}".strip(" ·"))
                   for v in range(int(scale["min"]), int(scale["max"]) + 1)]
        options.append((ratings.NOT_ENOUGH_INFORMATION, "Not enough information to rate"))
        wording = ctx.library.category_rules(ctx.library.baseline.data["association"], spec.category, ctx.today()).role_wording
        return pages.TemplateResponse(request, "rate.html", {
            "spec": spec, "values": values, "errors": errors, "saved": saved, "scale_options": options,
            "csrf": csrf_for(token), "action": f"/rate/{token}", "decline_action": f"/rate/{token}/decline",
            "role_words": wording.get(spec.role, spec.role).replace("your ", "their ").replace("you", "the applicant"),
        }, status_code=status)

    def load(token: str):
        with ctx.sessions() as s:
            req = ratings.find_request(s, token, ctx.today())
            spec = ratings.form_spec(s, req, ctx.library, ctx.today())
            draft = req.rating
            values = ratings.RatingInput()
            if draft is not None and draft.submitted_at is None:
                values = ratings.RatingInput(
                    answers={f"{a.domain_key}/{a.area_key}": ("na" if a.score is None else str(a.score)) for a in draft.answers},
                    known_for_months=draft.known_for_months, relationship=draft.relationship_to_applicant,
                    recommendation=draft.recommendation, comments=draft.comments, attested=draft.attested)
        return spec, values

    @app.get("/healthz", response_class=PlainTextResponse)
    async def healthz() -> str:
        return "ok"  # the process answers; /readyz says whether what it needs answers too

    checks = readiness_checks if readiness_checks is not None else [lambda: database_check(ctx.sessions)]

    @app.get("/readyz")
    def readyz() -> JSONResponse:  # sync: the checks block for up to a few seconds, off the event loop
        ok, body = readiness(checks)
        return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})

    # The handlers are async and do their few milliseconds of database and template work inline: a
    # thread hop per request (what sync handlers get) costs more than it saves at this size.
    @app.get("/rate/{token}", response_class=HTMLResponse)
    async def rating_form(request: Request, token: str):
        try:
            spec, values = load(token)
        except ratings.LinkNotFound:
            return not_found(request)
        if spec.status in ("submitted", "declined"):
            return thanks(request, declined=spec.status == "declined")
        return render_form(request, token, spec, values, {})

    def checked_post(request: Request, token: str, form):
        """The request behind a posted form, or the page to answer with (unknown link, stale form)."""
        try:
            spec, values = load(token)
        except ratings.LinkNotFound:
            return None, None, not_found(request)
        if not same_secret(str(form.get("csrf", "")), csrf_for(token)):
            return None, None, message(request, "Please try again", "The form was out of date. Open the link again.",
                                       status=403)
        return spec, values, None

    @app.post("/rate/{token}", response_class=HTMLResponse)
    async def rating_submit(request: Request, token: str):
        form = await read_form(request)
        spec, _, refusal = checked_post(request, token, form)
        if refusal is not None:
            return refusal
        if spec.status in ("submitted", "declined"):
            return thanks(request, declined=spec.status == "declined", status=409)
        values, errors = _rating_input(form)
        final = form.get("action") == "submit"
        if not errors:
            try:
                outcome = ratings.save_rating(ctx.sessions, token, values, library=ctx.library, as_of=ctx.today(),
                                              submit=final)
            except ratings.RatingInvalid as exc:
                errors = exc.errors
            except ratings.AlreadySubmitted:
                return thanks(request, status=409)
            except ratings.LinkNotFound:
                return not_found(request)
            else:
                if outcome == "submitted":
                    ctx.on_event(spec.application_id)
                    return message(request, "Thank you: your rating is submitted",
                                   f"Your rating of {spec.applicant_name} has been recorded.",
                                   "You can close this page.")
                return render_form(request, token, spec, values, {}, saved=True)
        return render_form(request, token, spec, values, errors, status=422)

    @app.post("/rate/{token}/decline", response_class=HTMLResponse)
    async def rating_decline(request: Request, token: str):
        form = await read_form(request)
        spec, values, refusal = checked_post(request, token, form)
        if refusal is not None:
            return refusal
        try:
            ratings.decline_rating(ctx.sessions, token, str(form.get("declined_reason", "")), library=ctx.library,
                                   as_of=ctx.today())
        except ratings.RatingInvalid as exc:
            return render_form(request, token, spec, values, exc.errors, status=422)
        except ratings.AlreadySubmitted:
            return thanks(request, status=409)
        except ratings.LinkNotFound:
            return not_found(request)
        ctx.on_event(spec.application_id)
        return thanks(request, declined=True)

    # --- reviewers: one link per reviewer and sitting; only their own essays, under codes ---------

    def review_base(token: str) -> str:
        return f"/review/{token}"

    def render_essay(request: Request, token: str, page: essay_review.EssayPage, values: dict, errors: dict,
                     status: int = 200) -> HTMLResponse:
        scale = page.scale
        options = [(str(v), f"{v} · {scale['labels'].get(str(v), '')}".strip(" ·"))
                   for v in range(int(scale["min"]), int(scale["max"]) + 1)]
        return pages.TemplateResponse(request, "review_essay.html", {
            "page": page, "values": values, "errors": errors, "scale_options": options, "csrf": csrf_for(token),
            "base": review_base(token)}, status_code=status)

    def empty_review() -> dict:
        return {"scores": {}, "recommendation": None, "comments": ""}

    @app.get("/review/{token}", response_class=HTMLResponse)
    async def reviewer_home(request: Request, token: str, notice: str = ""):
        try:
            with ctx.sessions() as s:
                home = essay_review.reviewer_home(s, token, ctx.library, ctx.today())
        except ratings.LinkNotFound:
            return not_found(request)
        notices = {"submitted": "Thank you: your review is recorded.",
                   "declined": "The essay was given back; it goes to another reviewer."}
        return pages.TemplateResponse(request, "review_home.html", {
            "home": home, "base": review_base(token), "notice": notices.get(notice, "")})

    @app.get("/review/{token}/essay/{assignment_id}", response_class=HTMLResponse)
    async def review_essay(request: Request, token: str, assignment_id: DbId):
        try:
            with ctx.sessions() as s:
                page = essay_review.essay_page(s, token, assignment_id, ctx.library, ctx.today())
        except ratings.LinkNotFound:
            return not_found(request)
        return render_essay(request, token, page, empty_review(), {})

    async def checked_review_post(request: Request, token: str, assignment_id: DbId):
        form = await read_form(request)
        try:
            with ctx.sessions() as s:
                page = essay_review.essay_page(s, token, assignment_id, ctx.library, ctx.today())
        except ratings.LinkNotFound:
            return form, None, not_found(request)
        if not same_secret(str(form.get("csrf", "")), csrf_for(token)):
            return form, None, message(request, "Please try again", "The form was out of date. Open the link again.",
                                       status=403)
        if page.status == "submitted":
            return form, page, message(request, "Already submitted",
                                       "Your review of this essay was already submitted. Nothing more is needed.",
                                       status=409)
        return form, page, None

    @app.post("/review/{token}/essay/{assignment_id}", response_class=HTMLResponse)
    async def review_submit(request: Request, token: str, assignment_id: DbId):
        form, page, refusal = await checked_review_post(request, token, assignment_id)
        if refusal is not None:
            return refusal
        values = {"scores": {k.removeprefix("score:"): str(v) for k, v in form.multi_items() if k.startswith("score:")},
                  "recommendation": str(form.get("recommendation", "")),
                  "comments": str(form.get("comments", ""))[:10_000]}
        try:
            state, application_id = essay_review.submit_review(ctx.sessions, token, assignment_id, ctx.library, as_of=ctx.today(),
                                       secret_key=ctx.secret_key, scores=values["scores"],
                                       recommendation=values["recommendation"], comments=values["comments"])
        except essay_review.ReviewInvalid as exc:
            return render_essay(request, token, page, values, exc.errors, status=422)
        except ratings.AlreadySubmitted:
            return message(request, "Already submitted",
                           "Your review of this essay was already submitted. Nothing more is needed.", status=409)
        except ratings.LinkNotFound:
            return not_found(request)
        if state in ("pass", "fail"):
            ctx.on_event(application_id)  # the exam may now be settled: reconcile without waiting for the sweep
        return RedirectResponse(f"{review_base(token)}?notice=submitted", status_code=303)

    @app.post("/review/{token}/essay/{assignment_id}/decline", response_class=HTMLResponse)
    async def review_decline(request: Request, token: str, assignment_id: DbId):
        form, page, refusal = await checked_review_post(request, token, assignment_id)
        if refusal is not None:
            return refusal
        try:
            essay_review.decline_review(ctx.sessions, token, assignment_id, ctx.library, as_of=ctx.today(),
                                        secret_key=ctx.secret_key, reason=str(form.get("declined_reason", "")))
        except ratings.AlreadySubmitted:
            return message(request, "Already submitted",
                           "Your review of this essay was already submitted. Nothing more is needed.", status=409)
        except ratings.LinkNotFound:
            return not_found(request)
        return RedirectResponse(f"{review_base(token)}?notice=declined", status_code=303)

    return app


def _rating_input(form) -> tuple[ratings.RatingInput, dict[str, str]]:
    """Form fields → RatingInput, keeping whatever the rater typed even when it is wrong."""
    errors: dict[str, str] = {}
    answers = {k.removeprefix("answer:"): str(v) for k, v in form.multi_items() if k.startswith("answer:")}
    known_raw = str(form.get("known_for_months", "")).strip()
    known = None
    if known_raw:
        if re.fullmatch(r"[0-9]{1,4}", known_raw) and int(known_raw) <= 1200:  # ASCII digits only: "²" is isdigit()
            known = int(known_raw)
        else:
            errors["known_for_months"] = "write a whole number of months, for example 18"
    rec = str(form.get("recommendation", "")) or None
    if rec not in (None, "recommend", "recommend_with_reservations", "do_not_recommend"):
        errors["recommendation"] = "choose one of the three recommendations"
        rec = None
    values = ratings.RatingInput(
        answers=answers, known_for_months=known, relationship=(str(form.get("relationship", "")).strip()[:200] or None),
        recommendation=rec, comments=(str(form.get("comments", ""))[:20_000] or None),
        attested=form.get("attested") == "yes")
    return values, errors


def default_app() -> FastAPI:
    """The app as `endorse serve` runs it, from settings."""
    from endorse.db import default_session_factory
    from endorse.rulebook import default_library
    from endorse.settings import get_settings

    from web.health import prefect_check, smtp_check
    from flows.after_event import prefect_api_url

    settings = get_settings()
    from endorse.db import transaction
    from tasks.intake.records import ensure_associations, refuse_production_start

    with transaction(default_session_factory()) as s:
        ensure_associations(s, default_library())  # a profile edited since takes effect at start
        refuse_production_start(s, default_library())
    ctx = WebContext(sessions=default_session_factory(), library=default_library(),
                     secret_key=settings.secret_key.get_secret_value(), on_event=_reconcile_on_prefect)
    checks = [lambda: database_check(ctx.sessions), lambda: prefect_check(prefect_api_url()),
              lambda: smtp_check(settings.smtp_host, settings.smtp_port, settings.smtp_tls)]
    return create_app(ctx, str(settings.templates_dir), requests_per_minute=settings.link_rate_limit_per_minute,
                      secure_cookies=settings.public_base_url.startswith("https://"),
                      prefect_ui_url=settings.prefect_ui_url, readiness_checks=checks)


def _reconcile_on_prefect(application_id: str) -> threading.Thread:
    """An event triggers a reconcile, off the request: on Prefect when a server is configured, else in
    this process. The event has committed with the application marked, so if Prefect cannot take it
    the next sweep does; a line in the log says which."""
    log = logging.getLogger("endorse.web")

    def go() -> None:
        from endorse.errors import one_line
        from flows.after_event import reconcile_after_event

        try:
            log.info(reconcile_after_event(application_id)[0])
        except Exception as exc:  # noqa: BLE001 - the application stays marked: the next sweep catches up
            log.warning("reconcile of %s left to the next sweep: %s", application_id, one_line(exc))

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread
