"""The front page and the page-not-found page: where a person who types the address lands."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException


def add_front_pages(app: FastAPI, ctx, pages: Jinja2Templates) -> None:
    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request):
        from models import Application, Association

        with ctx.sessions() as s:
            # Only associations that run their Endorsement® here (they have applications).
            names = list(s.scalars(select(Association.name).where(
                Association.code.in_(select(Application.association_code).distinct())).order_by(Association.name)))
        return pages.TemplateResponse(request, "home.html", {"associations": names})

    @app.exception_handler(StarletteHTTPException)
    async def friendly_not_found(request: Request, exc: StarletteHTTPException):
        # A browser gets a page that says where to go; an API client keeps the JSON answer.
        if exc.status_code == 404 and "text/html" in request.headers.get("accept", ""):
            return pages.TemplateResponse(request, "not_found.html", {}, status_code=404)
        return await http_exception_handler(request, exc)
