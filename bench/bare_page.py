"""The baseline for the rating form's server cost: a bare FastAPI app that renders a Jinja2 page of
the same size (no database, no link check, no CSRF), served by uvicorn like the real app.

``BARE_PAGE_BYTES`` sets the page size (the form page's, measured in the same run)."""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from jinja2 import Environment

_TEMPLATE = Environment(autoescape=True).from_string(
    "<!doctype html><html><head><title>{{ title }}</title></head><body><form method='post'>"
    "{% for row in rows %}<p><label>{{ row }} <input name='a{{ loop.index }}' value=''></label></p>{% endfor %}"
    "</form></body></html>")


def app() -> FastAPI:
    size = int(os.environ.get("BARE_PAGE_BYTES", "20000"))
    # Each row renders to about 117 bytes: enough rows to reach the size.
    rows = [f"Area {i}: a sentence about a competency, as long as the form's" for i in range(max(1, size // 117))]
    api = FastAPI()

    @api.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return _TEMPLATE.render(title="A page", rows=rows)

    @api.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

    return api
