"""The essay reviewer's pages (/review/…): one link per reviewer and sitting; only their own essays,
under codes. Handlers call ``tasks.exam.review`` and render; an unknown link or an essay that is not
theirs, and a stale form, are refused by the dependencies (``web.deps``, ``web.errors``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tasks.application_review import pages as application_review
from tasks.application_review import rounds as application_rounds
from tasks.exam import review as essay_review
from tasks.references import ratings
from web.deps import (
    ApplicationReviewerHomeDep,
    ApplicationReviewLink,
    Ctx,
    EssayLink,
    LinkForm,
    ReviewerHomeDep,
    Site,
    SiteDep,
    WebContext,
    csrf_for,
)
from web.guard import DbId

router = APIRouter(prefix="/review")

NOTICES = {"submitted": "Thank you: your review is recorded.",
           "declined": "The essay was given back; it goes to another reviewer."}


def review_base(token: str) -> str:
    return f"/review/{token}"


def already_submitted(request: Request, site: Site) -> HTMLResponse:
    return site.pages.TemplateResponse(request, "public/message.html", {
        "title": "Already submitted",
        "paragraphs": ["Your review of this essay was already submitted. Nothing more is needed."]}, status_code=409)


def render_essay(request: Request, ctx: WebContext, site: Site, token: str, page: essay_review.EssayPage, values: dict,
                 errors: dict, status: int = 200) -> HTMLResponse:
    scale = page.scale
    options = [(str(v), f"{v} · {scale['labels'].get(str(v), '')}".strip(" ·"))
               for v in range(int(scale["min"]), int(scale["max"]) + 1)]
    return site.pages.TemplateResponse(request, "reviewer/essay.html", {
        "page": page, "values": values, "errors": errors, "scale_options": options,
        "csrf": csrf_for(ctx.secret_key, token), "base": review_base(token)}, status_code=status)


def empty_review() -> dict:
    return {"scores": {}, "recommendation": None, "comments": ""}


@router.get("/{token}", response_class=HTMLResponse)
async def reviewer_home(request: Request, token: str, site: SiteDep, home: ReviewerHomeDep, notice: str = ""):
    return site.pages.TemplateResponse(request, "reviewer/home.html", {
        "home": home, "base": review_base(token), "notice": NOTICES.get(notice, "")})


@router.get("/{token}/essay/{assignment_id}", response_class=HTMLResponse)
async def review_essay(request: Request, token: str, ctx: Ctx, site: SiteDep, page: EssayLink):
    return render_essay(request, ctx, site, token, page, empty_review(), {})


@router.post("/{token}/essay/{assignment_id}", response_class=HTMLResponse)
async def review_submit(request: Request, token: str, assignment_id: DbId, ctx: Ctx, site: SiteDep, page: EssayLink,
                        form: LinkForm):
    if page.status == "submitted":
        return already_submitted(request, site)
    values = {"scores": {k.removeprefix("score:"): str(v) for k, v in form.multi_items() if k.startswith("score:")},
              "recommendation": str(form.get("recommendation", "")),
              "comments": str(form.get("comments", ""))[:10_000]}
    try:
        state, application_id = essay_review.submit_review(ctx.sessions, token, assignment_id, ctx.library, as_of=ctx.today(),
                                   secret_key=ctx.secret_key, scores=values["scores"],
                                   recommendation=values["recommendation"], comments=values["comments"])
    except essay_review.ReviewInvalid as exc:
        return render_essay(request, ctx, site, token, page, values, exc.errors, status=422)
    except ratings.AlreadySubmitted:
        return already_submitted(request, site)
    if state in ("pass", "fail"):
        ctx.on_event(application_id)  # the exam may now be settled: reconcile without waiting for the sweep
    return RedirectResponse(f"{review_base(token)}?notice=submitted", status_code=303)


@router.post("/{token}/essay/{assignment_id}/decline", response_class=HTMLResponse)
async def review_decline(request: Request, token: str, assignment_id: DbId, ctx: Ctx, site: SiteDep, page: EssayLink,
                         form: LinkForm):
    if page.status == "submitted":
        return already_submitted(request, site)
    try:
        essay_review.decline_review(ctx.sessions, token, assignment_id, ctx.library, as_of=ctx.today(),
                                    secret_key=ctx.secret_key, reason=str(form.get("declined_reason", "")))
    except ratings.AlreadySubmitted:
        return already_submitted(request, site)
    return RedirectResponse(f"{review_base(token)}?notice=declined", status_code=303)


# --- application reviewers (issue 19): the same console, their applications under /review/application/… ---

APPLICATION_NOTICES = {"submitted": "Thank you: your review is recorded.",
                       "declined": "The application was given back; it goes to another reviewer."}


def application_base(token: str) -> str:
    return f"/review/application/{token}"


def render_application(request: Request, ctx: WebContext, site: Site, token: str,
                       page: application_review.ApplicationReviewPage, values: dict, errors: dict,
                       status: int = 200) -> HTMLResponse:
    return site.pages.TemplateResponse(request, "reviewer/application.html", {
        "page": page, "values": values, "errors": errors, "csrf": csrf_for(ctx.secret_key, token),
        "base": application_base(token)}, status_code=status)


@router.get("/application/{token}", response_class=HTMLResponse)
async def application_reviewer_home(request: Request, token: str, site: SiteDep, home: ApplicationReviewerHomeDep,
                                    notice: str = ""):
    return site.pages.TemplateResponse(request, "reviewer/applications.html", {
        "home": home, "base": application_base(token), "notice": APPLICATION_NOTICES.get(notice, "")})


@router.get("/application/{token}/{assignment_id}", response_class=HTMLResponse)
async def application_review_page(request: Request, token: str, ctx: Ctx, site: SiteDep, page: ApplicationReviewLink):
    return render_application(request, ctx, site, token, page, {"recommendation": None, "conditions": "", "notes": {},
                                                                 "answers": {}}, {})


@router.post("/application/{token}/{assignment_id}", response_class=HTMLResponse)
async def application_review_submit(request: Request, token: str, assignment_id: DbId, ctx: Ctx, site: SiteDep,
                                    page: ApplicationReviewLink, form: LinkForm):
    if page.status == "submitted":
        return already_submitted(request, site)
    values = {"recommendation": str(form.get("recommendation", "")), "conditions": str(form.get("conditions", ""))[:5000],
              "notes": {k.removeprefix("note:"): str(v)[:5000] for k, v in form.multi_items() if k.startswith("note:")},
              "answers": {k.removeprefix("answer:"): str(v) for k, v in form.multi_items() if k.startswith("answer:")}}
    try:
        state, application_id = application_rounds.submit_review(
            ctx.sessions, token, assignment_id, ctx.library, as_of=ctx.today(), recommendation=values["recommendation"],
            conditions=values["conditions"], notes=values["notes"], answers=values["answers"],
            requirement_ids=page.requirement_ids, question_ids=page.question_ids)
    except application_rounds.ReviewInvalid as exc:
        return render_application(request, ctx, site, token, page, values, exc.errors, status=422)
    except ratings.AlreadySubmitted:
        return already_submitted(request, site)
    if state not in ("waiting", "disagreement"):
        ctx.on_event(application_id)  # the round is settled: reconcile without waiting for the sweep
    return RedirectResponse(f"{application_base(token)}?notice=submitted", status_code=303)


@router.post("/application/{token}/{assignment_id}/decline", response_class=HTMLResponse)
async def application_review_decline(request: Request, token: str, assignment_id: DbId, ctx: Ctx, site: SiteDep,
                                     page: ApplicationReviewLink, form: LinkForm):
    if page.status == "submitted":
        return already_submitted(request, site)
    try:
        application_rounds.decline_review(ctx.sessions, token, assignment_id, ctx.library, as_of=ctx.today(),
                                          secret_key=ctx.secret_key, reason=str(form.get("declined_reason", "")))
    except ratings.AlreadySubmitted:
        return already_submitted(request, site)
    return RedirectResponse(f"{application_base(token)}?notice=declined", status_code=303)
