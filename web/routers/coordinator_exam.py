"""The coordinator's exam page (/coordinator/exam…): open a sitting, enrol the approved candidates,
upload the essays and the multiple-choice results (a CSV: every bad line listed, nothing written),
release or redact a held essay, preview the reviewer assignment (the dry run) and apply it, and send a
reviewer their console link again (or a new one, the old one then dead).

The same verbs as the CLI (tasks.exam.*), audited under the coordinator's name; every sitting and essay
is checked to be the coordinator's association's first (else the same 404 as a missing one)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from endorse import auth
from tasks.coordination import exam_desk
from web.deps import FLASH_COOKIE, SESSION_COOKIE, Coordinator, CoordinatorForm, Ctx, Db, NotYours, SignedIn, SiteDep, \
    signed_in_coordinator
from web.guard import DbId
from web.routers.coordinator import _day, actor, render

router = APIRouter(prefix="/coordinator/exam", dependencies=[Depends(signed_in_coordinator)])
MAX_CSV_BYTES = 5_000_000


async def owned_sitting(ctx: Ctx, who: SignedIn, sitting_id: DbId) -> int:
    with ctx.sessions() as s:
        if exam_desk.sitting_association(s, sitting_id) != who.association:
            raise NotYours(who)
    return sitting_id


async def owned_essay(ctx: Ctx, who: SignedIn, essay_id: DbId) -> int:
    with ctx.sessions() as s:
        if exam_desk.essay_association(s, essay_id) != who.association:
            raise NotYours(who)
    return essay_id


async def owned_reviewer(ctx: Ctx, who: SignedIn, person_id: DbId) -> int:
    with ctx.sessions() as s:
        if not exam_desk.reviews_for(s, person_id, who.association):
            raise NotYours(who)
    return person_id


OwnedSitting = Depends(owned_sitting)
OwnedEssay = Depends(owned_essay)
OwnedReviewer = Depends(owned_reviewer)


def back_with(request: Request, ctx, site, notice: str, to: str = "/coordinator/exam") -> RedirectResponse:
    resp = RedirectResponse(to, status_code=303)
    resp.set_cookie(FLASH_COOKIE, auth.flash_cookie(ctx.secret_key, request.cookies.get(SESSION_COOKIE, ""), notice),
                    max_age=300, httponly=True, samesite="strict", secure=site.secure_cookies, path="/coordinator")
    return resp


def refused(request: Request, ctx, site, who: Coordinator, exc: Exception, back: str = "/coordinator/exam"):
    problems = getattr(exc, "problems", None)
    return render(request, ctx, site, "exam_refused.html", who, status=422, text=str(exc).splitlines()[0],
                  problems=problems or [], back=back)


@router.get("", response_class=HTMLResponse)
async def exam_page(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, s: Db):
    return render(request, ctx, site, "exam.html", who, sittings=exam_desk.sittings_of(s, who.association),
                  reviewers=exam_desk.reviewers_of(s, who.association), today=ctx.today())


@router.post("/sittings", response_class=HTMLResponse)
async def open_sitting(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm):
    from tasks.exam.intake import open_sitting as open_one

    try:
        name = form.get("name", "").strip()
        if not name:
            raise ValueError("name: give the sitting a name, e.g. Spring 2027")
        open_one(ctx.sessions, ctx.library, association=who.association, name=name[:200],
                 opens_on=_day(form, "opens_on"), closes_on=_day(form, "closes_on"), actor=actor(who))
    except (ValueError, LookupError) as exc:
        return refused(request, ctx, site, who, exc)
    return back_with(request, ctx, site, f"Sitting {name} opened.")


@router.post("/{sitting_id}/enrol", response_class=HTMLResponse)
async def enrol(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                sitting_id: int = OwnedSitting):
    from tasks.exam.intake import enrol_candidates

    try:
        out = enrol_candidates(ctx.sessions, sitting_id, ctx.library, as_of=ctx.today(), actor=actor(who))
    except (ValueError, LookupError) as exc:
        return refused(request, ctx, site, who, exc)
    if not out.enrolled:
        return back_with(request, ctx, site, f"Nobody enrolled: {out.nobody_because or 'no approved candidate'}.")
    return back_with(request, ctx, site, f"{len(out.enrolled)} enrolled, each under a candidate code.")


async def uploaded_file(request: Request) -> tuple[str, bytes]:
    """The file of an upload form, with the name it had on the coordinator's computer (for the error report)."""
    form = await request.form()  # already read and kept by Starlette: the CSRF dependency read it first
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        raise ValueError("file: choose the file to upload")
    body = await upload.read(MAX_CSV_BYTES + 1)
    if len(body) > MAX_CSV_BYTES:
        raise ValueError(f"file: {upload.filename} is larger than {MAX_CSV_BYTES // 1_000_000} MB")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload.filename).name)[:100] or "upload.csv"
    return name, body


async def _import(request: Request, ctx, site, who: Coordinator, run) -> HTMLResponse | RedirectResponse:
    try:
        name, body = await uploaded_file(request)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name  # the import names the file in its report: the coordinator's own name
            path.write_bytes(body)
            notice = run(path)
    except (ValueError, LookupError) as exc:
        return refused(request, ctx, site, who, exc)
    return back_with(request, ctx, site, notice)


@router.post("/{sitting_id}/essays", response_class=HTMLResponse)
async def upload_essays(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                        sitting_id: int = OwnedSitting):
    from tasks.exam.intake import import_essays

    def run(path: Path) -> str:
        out = import_essays(ctx.sessions, sitting_id, path, ctx.library, actor=actor(who), as_of=ctx.today())
        held = f"; {len(out.flagged)} held for you (they may reveal their writer)" if out.flagged else ""
        return f"{out.received} essays received from {path.name}{held}."

    return await _import(request, ctx, site, who, run)


@router.post("/{sitting_id}/multiple-choice", response_class=HTMLResponse)
async def upload_multiple_choice(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                                 sitting_id: int = OwnedSitting):
    from tasks.exam.intake import import_multiple_choice

    def run(path: Path) -> str:
        n = import_multiple_choice(ctx.sessions, sitting_id, path, actor=actor(who))
        return f"{n} multiple-choice results recorded from {path.name}."

    return await _import(request, ctx, site, who, run)


@router.post("/essays/{essay_id}/release", response_class=HTMLResponse)
async def release_essay(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                        essay_id: int = OwnedEssay):
    from tasks.exam.intake import clear_essay_flag

    redacted = form.get("redacted", "").strip() if form.get("how") == "redacted" else None
    try:
        if redacted is not None and not redacted:
            raise ValueError("redacted text: paste the essay with what reveals its writer taken out")
        clear_essay_flag(ctx.sessions, essay_id, ctx.library, actor=actor(who), as_of=ctx.today(),
                         redacted_text=redacted)
    except (ValueError, LookupError) as exc:
        return refused(request, ctx, site, who, exc)
    return back_with(request, ctx, site, f"Essay #{essay_id} released for review" + (" with the redacted text." if redacted
                                                                                   else "."))


@router.get("/{sitting_id}/assignment", response_class=HTMLResponse)
async def assignment_preview(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, s: Db,
                             sitting_id: int = OwnedSitting):
    from tasks.exam.sitting_plan import plan_sitting

    rnd = plan_sitting(s, sitting_id, ctx.library, ctx.today())
    return render(request, ctx, site, "assignment.html", who, rnd=rnd, rows=rnd.plan.to_rows(),
                  stats=rnd.plan.load_stats)


@router.post("/{sitting_id}/assignment", response_class=HTMLResponse)
async def assignment_apply(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                           sitting_id: int = OwnedSitting):
    from tasks.exam.review import apply_sitting

    try:
        rnd = apply_sitting(ctx.sessions, sitting_id, ctx.library, as_of=ctx.today(), secret_key=ctx.secret_key,
                            actor=actor(who))
    except (ValueError, LookupError) as exc:
        return refused(request, ctx, site, who, exc, back=f"/coordinator/exam/{sitting_id}/assignment")
    return back_with(request, ctx, site, f"{len(rnd.plan.to_rows())} assignments made; each reviewer was emailed one link.")


@router.post("/reviewers/{person_id}/console-link", response_class=HTMLResponse)
async def send_console_link(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                            person_id: int = OwnedReviewer):
    from tasks.reviewer_console import send_console_link as send

    try:
        outcome = send(ctx.sessions, person_id, ctx.library, as_of=ctx.today(), secret_key=ctx.secret_key,
                       actor=actor(who), regenerate=form.get("regenerate") == "yes")
    except (ValueError, LookupError) as exc:
        return refused(request, ctx, site, who, exc, back="/coordinator/exam#reviewers")
    return back_with(request, ctx, site, {
        "issued": "Console link emailed.", "resent": "The same console link emailed again.",
        "replaced": "A new console link emailed; the old one no longer works."}[outcome], to="/coordinator/exam#reviewers")


@router.post("/{sitting_id}/reviewers", response_class=HTMLResponse)
async def register_reviewer(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                            sitting_id: int = OwnedSitting):
    from tasks.exam.reviewers import register_reviewer as register, reviewer_input

    try:
        name = form.get("name", "").strip()
        if not name:
            raise ValueError("name: say who the reviewer is")
        most, fewest = _count(form, "max_load", "most essays"), _count(form, "min_load", "fewest essays")
        if most < 1:
            raise ValueError("most essays: 1 or more")
        if fewest > most:
            raise ValueError(f"fewest essays: from 0 to the most ({most}), got {fewest}")
        given = reviewer_input(name=name[:200], email=form.get("email", "").strip(), max_load=most, min_load=fewest,
                               employer=form.get("employer", "").strip()[:200] or None)
        if given.email.count("@") != 1 or " " in given.email:
            raise ValueError("email: write one email address, like name@example.org")
        register(ctx.sessions, given, trained=form.get("trained") == "yes", sitting_id=sitting_id, by=who.email)
    except (ValueError, LookupError) as exc:
        return refused(request, ctx, site, who, exc)
    return back_with(request, ctx, site, f"{name} is a reviewer for this sitting.")


def _count(form: dict, key: str, label: str) -> int:
    value = form.get(key, "").strip() or "0"
    if not value.isdigit():
        raise ValueError(f"{label}: write a whole number")
    return int(value)
