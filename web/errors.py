"""Every refusal and failure as one family of pages (``templates/errors/``): the exceptions of
``web.deps``, a bad address (400), a stale form (403), not found (404), a wrong method (405), a body
too large (413), too many requests (429) and a server error (500, never with a traceback).

A browser gets the page; an API client asking for JSON keeps FastAPI's JSON answer for 404 and 405.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.errors import ServerErrorMiddleware

from endorse import auth
from tasks import portal
from tasks.references import ratings
from web.deps import SESSION_COOKIE, Coordinator, LinkNotWorking, NotAdmin, NotSignedIn, NotYours, StaleForm

# Pages for statuses a browser can meet without a route (405) or before the app (413, 429 in middleware).
_BROWSER_PAGES = {404: "not_found.html", 405: "method_not_allowed.html"}


def error_page(request: Request, pages: Jinja2Templates, template: str, status: int,
               who: Coordinator | None = None, **context) -> HTMLResponse:
    """An error page; for a signed-in coordinator inside their navigation (which needs the session's
    CSRF token for its sign-out form)."""
    if who is not None:
        context |= {"who": who, "csrf": auth.csrf_token(request.app.state.ctx.secret_key,
                                                         request.cookies.get(SESSION_COOKIE, ""))}
    return pages.TemplateResponse(request, f"errors/{template}", context, status_code=status)


def static_page(pages: Jinja2Templates, template: str) -> bytes:
    """A page rendered once, for the middleware that answers before the app (and any request) runs."""
    return pages.get_template(f"errors/{template}").render().encode()


def add_error_handlers(app: FastAPI, pages: Jinja2Templates) -> None:
    """Call before adding any middleware (see the 500 page below)."""
    @app.exception_handler(NotSignedIn)
    async def to_sign_in(request: Request, exc: NotSignedIn) -> RedirectResponse:
        return RedirectResponse(f"/coordinator/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(LinkNotWorking)
    @app.exception_handler(ratings.LinkNotFound)  # a link that stopped working between reading and saving
    @app.exception_handler(portal.PortfolioNotFound)  # the same for an applicant's portfolio (or not a page of it)
    async def link_not_working(request: Request, exc: Exception) -> HTMLResponse:
        # The same page for unknown, expired, replaced or mistyped links: no hint which.
        return error_page(request, pages, "link_not_working.html", 404)

    @app.exception_handler(StaleForm)
    async def stale_form(request: Request, exc: StaleForm) -> HTMLResponse:
        return error_page(request, pages, "stale_form.html", 403, exc.who, text=exc.text)

    @app.exception_handler(NotYours)
    async def not_yours(request: Request, exc: NotYours) -> HTMLResponse:
        return error_page(request, pages, "not_yours.html", 404, exc.who)

    @app.exception_handler(NotAdmin)
    async def not_admin(request: Request, exc: NotAdmin) -> HTMLResponse:
        return error_page(request, pages, "not_admin.html", 403, exc.who)

    @app.exception_handler(RequestValidationError)
    async def bad_address(request: Request, exc: RequestValidationError) -> HTMLResponse:
        # e.g. an essay number that is not a number, or too large to be one: name the part, never a 500.
        fields = ", ".join(dict.fromkeys(str(e["loc"][-1]) for e in exc.errors())) or "address"
        return error_page(request, pages, "bad_address.html", 400, fields=fields.replace("_", " "))

    @app.exception_handler(StarletteHTTPException)
    async def friendly_http_error(request: Request, exc: StarletteHTTPException):
        # A browser gets a page that says where to go; an API client keeps the JSON answer.
        if exc.status_code in _BROWSER_PAGES and "text/html" in request.headers.get("accept", ""):
            return error_page(request, pages, _BROWSER_PAGES[exc.status_code], exc.status_code)
        return await http_exception_handler(request, exc)

    async def server_error(request: Request, exc: Exception) -> HTMLResponse:
        # Starlette re-raises the exception after this page is sent, so the server's log keeps the
        # traceback; the page never shows it.
        return error_page(request, pages, "server_error.html", 500)

    # Not app.exception_handler(Exception): that one answers from outside every middleware, so the
    # page would miss the security headers. Added before the app's middleware, this is the innermost.
    app.add_middleware(ServerErrorMiddleware, handler=server_error)
