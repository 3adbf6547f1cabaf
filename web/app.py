"""The web app, assembled (``create_app``): settings, the middleware every request goes through (body
cap, rate limits, security headers), the routers of each audience (``web/routers/``) and the error
pages (``web.errors``). Route handlers and what they depend on live in those modules and ``web.deps``."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from web.deps import Site, WebContext
from web.errors import add_error_handlers, static_page
from web.guard import SecurityHeaders
from web.health import Check, database_check
from web.routers import (advisor, applicant, coordinator, coordinator_accounts, coordinator_appreview, coordinator_exam,
                         coordinator_renewals, health, portfolios, public, rater, reviewer)

__all__ = ["MAX_BODY_BYTES", "LimitBody", "RateLimit", "RedactLinks", "WebContext", "create_app", "default_app"]

STATIC_DIR = Path(__file__).parent / "static"
MAX_BODY_BYTES = 256 * 1024  # a full rating form is a few kilobytes
# /review/application/<token> before /review/<token>: else "application" would be redacted, not the token.
_TOKEN_IN_PATH = re.compile(r"(/(?:rate|review/application|review|advise|apply|coordinator/login/password)/)[A-Za-z0-9_-]+")


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


def refusal(page: bytes | None, text: str, status: int, headers: dict[str, str] | None = None):
    """The middleware's answer: its error page, or the line of text when it was given none."""
    if page is None:
        return PlainTextResponse(text, status_code=status, headers=headers)
    return HTMLResponse(page, status_code=status, headers=headers)


class RateLimit:
    """At most ``per_minute`` requests a minute per client address on the link pages (token bucket),
    so nobody can try link after link. In memory, per worker: enough against guessing 128-bit tokens;
    put a shared limiter in the proxy when running many workers. ``page`` is the error page to answer
    with (rendered once: this runs before the app); without one, a line of plain text."""

    def __init__(self, app, per_minute: int = 120, prefixes: tuple[str, ...] = ("/rate/", "/review/"),
                 page: bytes | None = None):
        self.app, self.rate, self.prefixes, self.page = app, per_minute / 60.0, prefixes, page
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
                await refusal(self.page, "too many requests; try again in a minute", 429,
                              {"Retry-After": "60"})(scope, receive, send)
                return
            self.buckets[client] = (tokens - 1, now)
            if len(self.buckets) > 50_000:  # forget idle clients
                self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 120}
        await self.app(scope, receive, send)


class LimitBody:
    """Refuse oversized bodies (plain ASGI: no per-request overhead). A declared length is checked
    before reading; a body without one (chunked) is counted as it streams and refused as soon as it
    passes the cap, before the app sees any of it. ``page`` as for ``RateLimit``."""

    def __init__(self, app, page: bytes | None = None):
        self.app, self.page = app, page

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = refusal(self.page, "request body too large", 413)
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
    """The app, assembled: what the dependencies read (``app.state``), the middleware, the routers of
    each audience and the error pages. Nothing here handles a request itself."""
    install_log_redaction()
    app = FastAPI(title="endorse", docs_url=None, redoc_url=None, openapi_url=None)
    pages = Jinja2Templates(directory=templates_dir)  # autoescape is on for .html
    app.state.ctx = ctx
    app.state.site = Site(pages=pages, secure_cookies=secure_cookies, prefect_ui_url=prefect_ui_url)
    app.state.readiness_checks = readiness_checks if readiness_checks is not None else [
        lambda: database_check(ctx.sessions)]

    add_error_handlers(app, pages)  # first: its 500 page must pass through the middleware below
    app.add_middleware(LimitBody, page=static_page(pages, "too_large.html"))
    app.add_middleware(RateLimit, per_minute=requests_per_minute,
                       prefixes=("/rate/", "/review/", "/advise/", "/apply", "/coordinator/login"),
                       page=static_page(pages, "too_many_requests.html"))
    app.add_middleware(SecurityHeaders)  # last added runs first: every answer, 413 and 429 too, gets the headers
    # The one script the forms load, as a file (CSP: script-src 'self').
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for router in (health.router, public.router, rater.router, reviewer.router, advisor.router, applicant.router,
                   coordinator.sign_in_router, coordinator_accounts.password_router, portfolios.router,
                   coordinator.router, coordinator_appreview.router, coordinator_exam.router,
                   coordinator_renewals.router, coordinator_accounts.router):
        app.include_router(router)
    return app


def default_app() -> FastAPI:
    """The app as `endorse serve` runs it, from settings."""
    from endorse.db import default_session_factory
    from endorse.rulebook import default_library
    from endorse.settings import get_settings
    from flows.after_event import prefect_api_url
    from web.health import prefect_check, smtp_check
    from endorse.prefect_links import prefect_ui_base

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
                      prefect_ui_url=prefect_ui_base(settings.prefect_ui_url, prefect_api_url()),
                      readiness_checks=checks)


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
