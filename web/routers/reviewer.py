"""The reviewer's pages (/review/…): one link lists the reviewer's assignments, either for one sitting
(the link of an assignment email) or all of them across sittings and associations (the console link,
``tasks.reviewer_console``); essays appear under candidate codes only. Handlers call
``tasks.exam.review`` and render; an unknown link or an essay that is not theirs, and a stale form,
are refused by the dependencies (``web.deps``, ``web.errors``).

Every form works without JavaScript; /static/forms.js only adds autosave of drafts and the warning
before leaving with unsaved answers (an autosave posts ``autosave=1`` and gets 204 back)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
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
    EssayUnderReview,
    LinkForm,
    ReviewerConsoleDep,
    Site,
    SiteDep,
    WebContext,
    csrf_for,
)
from web.guard import DbId

router = APIRouter(prefix="/review")

NOTICES = {"submitted": "Thank you: your review is recorded.",
           "declined": "The essay was given back; it goes to another reviewer.",
           "draft": "Draft saved. You can come back to it with the same link.",
           "all_done": "Thank you: your review is recorded, and nothing else is waiting for you."}
STATUS_WORDS = {"to_review": "To review", "draft": "Draft saved", "reviewed": "Reviewed"}


def review_base(token: str) -> str:
    return f"/review/{token}"


def already_submitted(request: Request, site: Site) -> HTMLResponse:
    return site.pages.TemplateResponse(request, "public/message.html", {
        "title": "Already submitted",
        "paragraphs": [("Your review of this essay was already submitted and can no longer be changed "
                       "(its due date has passed, or the essay has its result). Nothing more is needed.")]},
                                       status_code=409)


def scale_options(scale: dict) -> list[tuple[str, str, str]]:
    """(value, number, label) for each point of the rubric's scale."""
    return [(str(v), str(v), scale["labels"].get(str(v), "")) for v in range(int(scale["min"]), int(scale["max"]) + 1)]


def render_essay(request: Request, ctx: WebContext, site: Site, essay: EssayUnderReview, values: dict, errors: dict,
                 notice: str = "", status: int = 200) -> HTMLResponse:
    page = essay.page
    return site.pages.TemplateResponse(request, "reviewer/essay.html", {
        "page": page, "console": essay.console, "values": values, "errors": errors,
        "scale_options": scale_options(page.scale), "csrf": csrf_for(ctx.secret_key, essay.token),
        "base": review_base(essay.token), "notice": NOTICES.get(notice, ""),
        "editing": page.status == "submitted" and page.editable}, status_code=status)


def review_values(page: essay_review.EssayPage) -> dict:
    """What the form starts with: the draft, else the submitted review (to edit), else nothing."""
    source = page.draft or page.submitted or {}
    return {"scores": {k: str(v) for k, v in (source.get("scores") or {}).items()},
            "recommendation": source.get("recommendation") or "", "comments": source.get("comments") or "",
            "confidential": source.get("confidential") or ""}


def posted_values(form) -> dict:
    return {"scores": {k.removeprefix("score:"): str(v) for k, v in form.multi_items() if k.startswith("score:")},
            "recommendation": str(form.get("recommendation", "")),
            "comments": str(form.get("comments", ""))[:essay_review.MAX_COMMENT],
            "confidential": str(form.get("confidential", ""))[:essay_review.MAX_COMMENT]}


@router.get("/{token}", response_class=HTMLResponse)
async def reviewer_home(request: Request, token: str, site: SiteDep, console: ReviewerConsoleDep, notice: str = ""):
    return site.pages.TemplateResponse(request, "reviewer/home.html", {
        "console": console, "base": review_base(token), "notice": NOTICES.get(notice, ""),
        "status_words": STATUS_WORDS})


@router.get("/{token}/essay/{assignment_id}", response_class=HTMLResponse)
async def review_essay(request: Request, ctx: Ctx, site: SiteDep, essay: EssayLink, notice: str = ""):
    return render_essay(request, ctx, site, essay, review_values(essay.page), {}, notice=notice)


@router.post("/{token}/essay/{assignment_id}", response_class=HTMLResponse)
async def review_submit(request: Request, token: str, assignment_id: DbId, ctx: Ctx, site: SiteDep, essay: EssayLink,
                        form: LinkForm):
    page, action = essay.page, str(form.get("action", "submit"))
    if page.status == "submitted" and not page.editable:
        return already_submitted(request, site)
    values = posted_values(form)
    if action == "save":
        if page.status == "submitted":  # a submitted review is changed by submitting it again
            return already_submitted(request, site)
        essay_review.save_review_draft(ctx.sessions, essay.scope, assignment_id, as_of=ctx.today(), **values)
        if form.get("autosave") == "1":
            return Response(status_code=204)
        return RedirectResponse(f"{review_base(token)}/essay/{assignment_id}?notice=draft#review", status_code=303)
    try:
        state, application_id = essay_review.submit_review(
            ctx.sessions, essay.scope, assignment_id, ctx.library, as_of=ctx.today(), secret_key=ctx.secret_key,
            **values)
    except essay_review.ReviewInvalid as exc:
        return render_essay(request, ctx, site, essay, values, exc.errors, status=422)
    except ratings.AlreadySubmitted:
        return already_submitted(request, site)
    if state in ("pass", "fail"):
        ctx.on_event(application_id)  # the exam may now be settled: reconcile without waiting for the sweep
    if action == "submit_next":
        with ctx.sessions() as s:
            following = essay_review.next_to_review(s, essay.scope, assignment_id)
        if following is not None:
            return RedirectResponse(f"{review_base(token)}/essay/{following}?notice=submitted", status_code=303)
        return RedirectResponse(f"{review_base(token)}?notice=all_done", status_code=303)
    return RedirectResponse(f"{review_base(token)}?notice=submitted", status_code=303)


@router.post("/{token}/essay/{assignment_id}/decline", response_class=HTMLResponse)
async def review_decline(request: Request, token: str, assignment_id: DbId, ctx: Ctx, site: SiteDep, essay: EssayLink,
                         form: LinkForm):
    """Giving an essay back takes a reason, then a second, explicit confirmation."""
    if essay.page.status == "submitted":
        return already_submitted(request, site)
    reason = str(form.get("declined_reason", "")).strip()[:2000]
    if not reason or form.get("confirm") != "yes":
        errors = {} if reason else {"declined_reason": "say why you give the essay back: the coordinator acts on it"}
        if reason and form.get("step") == "confirm":
            errors["confirm"] = "tick the box to confirm, or keep the essay"
        return site.pages.TemplateResponse(request, "reviewer/give_back.html", {
            "page": essay.page, "reason": reason, "errors": errors, "base": review_base(token),
            "csrf": csrf_for(ctx.secret_key, token)}, status_code=422 if errors else 200)
    try:
        essay_review.decline_review(ctx.sessions, essay.scope, assignment_id, ctx.library, as_of=ctx.today(),
                                    secret_key=ctx.secret_key, reason=reason)
    except ratings.AlreadySubmitted:
        return already_submitted(request, site)
    return RedirectResponse(f"{review_base(token)}?notice=declined", status_code=303)


# --- application reviewers (issue 19): the same console, their applications under /review/application/… ---

APPLICATION_NOTICES = {"submitted": "Thank you: your review is recorded.",
                       "declined": "The application was given back; it goes to another reviewer."}


def application_base(token: str) -> str:
    return f"/review/application/{token}"


def application_paths(request: Request, token: str) -> tuple[str, str]:
    """(where an application's page lives, the list to go back to): under the application-review link,
    or under the reviewer's console link beside their essays."""
    if request.url.path.startswith("/review/application/"):
        return application_base(token), application_base(token)
    return f"/review/{token}/application", review_base(token)


def render_application(request: Request, ctx: WebContext, site: Site, token: str,
                       page: application_review.ApplicationReviewPage, values: dict, errors: dict,
                       status: int = 200) -> HTMLResponse:
    base, home = application_paths(request, token)
    return site.pages.TemplateResponse(request, "reviewer/application.html", {
        "page": page, "values": values, "errors": errors, "csrf": csrf_for(ctx.secret_key, token),
        "base": base, "home": home}, status_code=status)


@router.get("/application/{token}", response_class=HTMLResponse)
async def application_reviewer_home(request: Request, token: str, site: SiteDep, home: ApplicationReviewerHomeDep,
                                    notice: str = ""):
    return site.pages.TemplateResponse(request, "reviewer/applications.html", {
        "home": home, "base": application_base(token), "notice": APPLICATION_NOTICES.get(notice, "")})


@router.get("/application/{token}/{assignment_id}", response_class=HTMLResponse)
@router.get("/{token}/application/{assignment_id}", response_class=HTMLResponse)
async def application_review_page(request: Request, token: str, ctx: Ctx, site: SiteDep, page: ApplicationReviewLink):
    return render_application(request, ctx, site, token, page, {"recommendation": None, "conditions": "", "notes": {},
                                                                 "answers": {}}, {})


@router.post("/application/{token}/{assignment_id}", response_class=HTMLResponse)
@router.post("/{token}/application/{assignment_id}", response_class=HTMLResponse)
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
    return RedirectResponse(f"{application_paths(request, token)[1]}?notice=submitted", status_code=303)


@router.post("/application/{token}/{assignment_id}/decline", response_class=HTMLResponse)
@router.post("/{token}/application/{assignment_id}/decline", response_class=HTMLResponse)
async def application_review_decline(request: Request, token: str, assignment_id: DbId, ctx: Ctx, site: SiteDep,
                                     page: ApplicationReviewLink, form: LinkForm):
    if page.status == "submitted":
        return already_submitted(request, site)
    try:
        application_rounds.decline_review(ctx.sessions, token, assignment_id, ctx.library, as_of=ctx.today(),
                                          secret_key=ctx.secret_key, reason=str(form.get("declined_reason", "")))
    except ratings.AlreadySubmitted:
        return already_submitted(request, site)
    return RedirectResponse(f"{application_paths(request, token)[1]}?notice=declined", status_code=303)
