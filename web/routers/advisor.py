"""The application advisor's page (/advise/<token>): the applicant's portfolio and live checklist, read
only and without ratings, and the notes the advisor leaves for the applicant."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tasks.application_review import advisors
from web.deps import AdvisorLink, Ctx, LinkForm, SiteDep, csrf_for

router = APIRouter(prefix="/advise")


def advisor_base(token: str) -> str:
    return f"/advise/{token}"


@router.get("/{token}", response_class=HTMLResponse)
async def advisor_home(request: Request, token: str, ctx: Ctx, site: SiteDep, page: AdvisorLink, notice: str = ""):
    return site.pages.TemplateResponse(request, "advisor/applicant.html", {
        "page": page, "base": advisor_base(token), "csrf": csrf_for(ctx.secret_key, token),
        "notice": "Your note is saved; the applicant sees it." if notice == "saved" else ""})


@router.post("/{token}/notes", response_class=HTMLResponse)
async def advisor_note(request: Request, token: str, ctx: Ctx, site: SiteDep, page: AdvisorLink, form: LinkForm):
    try:
        advisors.leave_note(ctx.sessions, token, str(form.get("text", "")), as_of=ctx.today())
    except ValueError as exc:
        return site.pages.TemplateResponse(request, "advisor/applicant.html", {
            "page": page, "base": advisor_base(token), "csrf": csrf_for(ctx.secret_key, token), "notice": "",
            "error": str(exc)}, status_code=422)
    return RedirectResponse(f"{advisor_base(token)}?notice=saved", status_code=303)
