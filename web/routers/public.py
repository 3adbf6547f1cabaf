"""The front page: where a person who types the address lands."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from models import Application, Association
from web.deps import Db, SiteDep

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, s: Db, site: SiteDep):
    # Only associations that run their Endorsement® here (they have applications).
    names = list(s.scalars(select(Association.name).where(
        Association.code.in_(select(Application.association_code).distinct())).order_by(Association.name)))
    return site.pages.TemplateResponse(request, "public/home.html", {"associations": names})
