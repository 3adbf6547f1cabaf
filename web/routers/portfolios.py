"""A coordinator's side of the applicants' portfolios (``/coordinator/portfolios``): those of their
association, a paper application started on someone's behalf (the link goes to the applicant; the
coordinator fills it in through the same pages, ``web.routers.applicant``), a workbook of paper
applications imported, a submitted one reopened (a renewal recorded by mistake too, with the reason), and the
descriptions uploaded for their questions.
Handlers call ``tasks.portal``; the router needs a signed-in coordinator, scoped to their association."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from endorse import auth
from tasks import portal
from web.deps import (
    SESSION_COOKIE,
    Coordinator,
    CoordinatorForm,
    Ctx,
    NotYours,
    SignedIn,
    SiteDep,
    StaleForm,
    signed_in_coordinator,
)
from web.forms import read_form
from web.guard import DbId
from web.routers.applicant import add_portfolio_routes

router = APIRouter(prefix="/coordinator/portfolios", dependencies=[Depends(signed_in_coordinator)])


def _page(request: Request, ctx, site, who: Coordinator, *, report: list[str] | None = None, errors=None,
          notice: str = "", status: int = 200) -> HTMLResponse:
    with ctx.sessions() as s:
        lines = portal.portfolios_of(s, who.association)
    return site.pages.TemplateResponse(request, "coordinator/portfolios.html", {
        "who": who, "csrf": auth.csrf_token(ctx.secret_key, request.cookies.get(SESSION_COOKIE, "")),
        "lines": lines, "report": report or [], "errors": errors or {}, "notice": notice}, status_code=status)


@router.get("", response_class=HTMLResponse)
async def portfolios(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn):
    return _page(request, ctx, site, who)


@router.post("/start", response_class=HTMLResponse)
async def start_on_behalf(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm):
    """A paper application (or renewal) started for an applicant: they get the link, the coordinator fills it."""
    try:
        portfolio_id = portal.request_link(ctx.sessions, ctx.library, email=form.get("email", ""),
                                           association=who.association, kind=form.get("kind", "application"),
                                           as_of=ctx.today(), secret_key=ctx.secret_key,
                                           started_by=f"coordinator:{who.email}")
    except ValueError as exc:
        field, _, why = str(exc).partition(": ")
        return _page(request, ctx, site, who, errors={field: why}, status=422)
    if portfolio_id is None:
        return _page(request, ctx, site, who, errors={"email": "no endorsement of your association renews under "
                                                               "this address"}, status=422)
    return RedirectResponse(f"/coordinator/portfolios/{portfolio_id}", status_code=303)


@router.post("/import", response_class=HTMLResponse)
async def import_workbook(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn):
    form = await read_form(request)
    if not auth.csrf_ok(ctx.secret_key, request.cookies.get(SESSION_COOKIE), form.get("csrf")):
        raise StaleForm("The form was out of date. Open the page again and repeat the action.", who)
    upload = form.get("workbook")
    if upload is None or isinstance(upload, str):
        return _page(request, ctx, site, who, report=["choose an XLSX workbook to import"], status=422)
    report = portal.import_workbook(ctx.sessions, upload.filename or "workbook.xlsx", await upload.read(), ctx.library,
                                    association=who.association, as_of=ctx.today(), actor=f"coordinator:{who.email}")
    if report.errors:
        return _page(request, ctx, site, who, report=report.errors, status=422)
    for document in report.documents:
        ctx.on_event(document.id)  # each is reconciled as after an import
    return _page(request, ctx, site, who, notice=f"Imported {len(report.documents)} application(s): "
                                                  + ", ".join(d.id for d in report.documents))


@router.post("/reopen", response_class=HTMLResponse)
async def reopen(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm):
    try:
        kind = portal.reopen(ctx.sessions, form.get("application_id", ""), association=who.association,
                             actor=f"coordinator:{who.email}", reason=form.get("reason", ""))
    except (LookupError, ValueError) as exc:
        return _page(request, ctx, site, who, report=[str(exc)], status=422)
    undone = " Its recorded renewal is undone until it is filed again." if kind == "renewal" else ""
    return _page(request, ctx, site, who, notice=f"{form.get('application_id')} is open for changes again.{undone}")


@router.get("/uploads/{upload_id}")
async def description(upload_id: DbId, ctx: Ctx, who: SignedIn) -> Response:
    with ctx.sessions() as s:
        try:
            u = portal.description_for(s, who.association, upload_id)
        except LookupError:
            raise NotYours(who) from None
        # Always a download, never shown inline: the file is the applicant's, not this site's page.
        return Response(u.data, media_type=u.content_type, headers={
            "Content-Disposition": f'attachment; filename="upload-{u.id}{_extension(u.filename)}"'})


def _extension(filename: str) -> str:
    return next((e for e in (".txt", ".pdf", ".docx") if filename.lower().endswith(e)), "")


add_portfolio_routes(router, "portfolio_id")
