"""The coordinator's side of application review and advising (issue 19), beside ``coordinator.py``
(/coordinator/…): settle a round the reviewers disagree on, open the next round after a "not yet", email
a reviewer a new link, pair an advisor and end a pairing, and the association's assignment (dry run,
apply). Handlers call ``tasks.application_review``; every action is the application page's (carried out
and audited as there), scoped to the coordinator's association."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from endorse import auth
from models import Application, Person
from web.deps import (
    FLASH_COOKIE,
    SESSION_COOKIE,
    CoordinatorForm,
    Ctx,
    Db,
    NotYours,
    SignedIn,
    SiteDep,
    signed_in_coordinator,
)
from web.guard import DbId
from web.routers.coordinator import OwnedApplication, actor, carried_out, render

router = APIRouter(prefix="/coordinator", dependencies=[Depends(signed_in_coordinator)])


@router.post("/applications/{application_id}/settle-review", response_class=HTMLResponse)
async def settle_review(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                        application_id: str = OwnedApplication):
    def run() -> str:
        from tasks.application_review.rounds import record_coordinator_outcome

        outcome = form.get("outcome", "")
        record_coordinator_outcome(ctx.sessions, application_id, outcome=outcome, note=form.get("note", "")[:2000],
                                   conditions=form.get("conditions", "")[:2000], on=ctx.today(), actor=actor(who),
                                   association=who.association)
        return f"Application review settled: {outcome.replace('_', ' ')}."

    return carried_out(request, ctx, site, who, application_id, run)


@router.post("/applications/{application_id}/advisor", response_class=HTMLResponse)
async def pair_advisor(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                       application_id: str = OwnedApplication):
    def run() -> str:
        from tasks.application_review.advisors import pair_advisor as pair

        pair(ctx.sessions, ctx.library, application_id, name=form.get("name", "")[:200],
             email=form.get("email", "").strip()[:254], as_of=ctx.today(), secret_key=ctx.secret_key,
             actor=actor(who), association=who.association)
        return f"Paired with {form.get('name', '').strip()}; their link is emailed."

    return carried_out(request, ctx, site, who, application_id, run)


@router.post("/applications/{application_id}/review-round", response_class=HTMLResponse)
async def open_review_round(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                            application_id: str = OwnedApplication):
    def run() -> str:
        from tasks.application_review.coordinator_acts import start_next_round

        n = start_next_round(ctx.sessions, ctx.library, application_id, reason=form.get("reason", "")[:2000],
                             on=ctx.today(), actor=actor(who), association=who.association)
        return f"Review round {n} opened: assign its reviewers on the application reviewers page."

    return carried_out(request, ctx, site, who, application_id, run)


@router.post("/applications/{application_id}/review-link/{reviewer_id}", response_class=HTMLResponse)
async def new_review_link(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                          reviewer_id: DbId, application_id: str = OwnedApplication):
    from tasks.application_review.coordination import review_summary
    from tasks.application_review.coordinator_acts import regenerate_review_link

    with ctx.sessions() as s:
        # Only a reviewer of this application: another association's reviewer is the same 404 as nobody.
        if reviewer_id not in {r["reviewer_id"] for r in review_summary(s, s.get(Application, application_id)).reviews}:
            raise NotYours(who)

    def run() -> str:
        regenerate_review_link(ctx.sessions, ctx.library, who.association, reviewer_id, as_of=ctx.today(),
                               secret_key=ctx.secret_key, actor=actor(who))
        return "A new link is emailed to the reviewer; the old one no longer works."

    return carried_out(request, ctx, site, who, application_id, run)


@router.post("/applications/{application_id}/advisor/{advisor_id}/end", response_class=HTMLResponse)
async def end_advisor(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm,
                      advisor_id: DbId, application_id: str = OwnedApplication):
    def run() -> str:
        from tasks.application_review.advisors import end_pairing

        name = end_pairing(ctx.sessions, application_id, advisor_id, reason=form.get("reason", "")[:2000],
                           on=ctx.today(), actor=actor(who), association=who.association)
        return f"The pairing with {name} has ended: their link no longer opens the application."

    return carried_out(request, ctx, site, who, application_id, run)


@router.get("/application-reviews", response_class=HTMLResponse)
async def application_reviews(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, s: Db):
    from tasks.application_review.coordination import applications_in_review
    from tasks.application_review.rounds import plan_reviews, reviewers_wanted

    wanted = reviewers_wanted(ctx.library, who.association, ctx.today())
    in_review = applications_in_review(s, who.association)
    rows, uncovered, names = [], [], {}
    if wanted:
        plan = plan_reviews(s, who.association, ctx.library, ctx.today()).plan
        rows, uncovered = plan.to_rows(), plan.uncovered
        ids = {r["reviewer_id"] for r in rows}
        names = dict(s.execute(select(Person.id, Person.name).where(Person.id.in_(ids or [-1]))).all())
    return render(request, ctx, site, "application_reviews.html", who, wanted=wanted, rows=rows, uncovered=uncovered,
                  names=names, in_review=in_review)


@router.post("/application-reviews/apply", response_class=HTMLResponse)
async def apply_application_reviews(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm):
    from tasks.application_review.rounds import apply_association

    rnd = apply_association(ctx.sessions, who.association, ctx.library, as_of=ctx.today(), secret_key=ctx.secret_key,
                            actor=actor(who))
    n = sum(len(v) for v in rnd.plan.assignments.values())
    resp = RedirectResponse("/coordinator/application-reviews", status_code=303)
    resp.set_cookie(FLASH_COOKIE, auth.flash_cookie(ctx.secret_key, request.cookies.get(SESSION_COOKIE, ""),
                                                    f"{n} application review{'s' if n != 1 else ''} assigned and emailed."),
                    max_age=300, httponly=True, samesite="strict", secure=site.secure_cookies, path="/coordinator")
    return resp
