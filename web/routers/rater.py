"""The rater's form behind a secure link (/rate/…). Handlers only translate HTTP to the rating service
(``tasks.references.ratings``) and render templates; they hold no business logic. An unknown, expired
or replaced link and a stale form are refused by the dependencies (``web.deps``, ``web.errors``).

Every page works without JavaScript; /static/forms.js only makes the counts live, saves drafts while
the rater types (a post with ``autosave=1``, answered 204) and warns before leaving unsaved answers.

The handlers are async and do their few milliseconds of database and template work inline: a thread
hop per request (what sync handlers get) costs more than it saves at this size.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from tasks.references import ratings
from web.deps import Ctx, LinkForm, RatingLink, RatingLinkDep, Site, SiteDep, WebContext, csrf_for

router = APIRouter(prefix="/rate")


def message(request: Request, site: Site, title: str, *paragraphs: str, status: int = 200) -> HTMLResponse:
    return site.pages.TemplateResponse(request, "public/message.html", {"title": title, "paragraphs": paragraphs},
                                       status_code=status)


def thanks(request: Request, site: Site, declined: bool = False, status: int = 200) -> HTMLResponse:
    if declined:
        return message(request, site, "Thank you", "We have recorded that you cannot rate this applicant.", status=status)
    return message(request, site, "Thank you: your rating is submitted",
                   "Your rating has already been submitted. Nothing more is needed from you.", status=status)


def area_anchor(key: str) -> str:
    """The id of an area's question on the page ("domain/area" → "area-domain--area")."""
    return "area-" + key.replace("/", "--")


def render_form(request: Request, ctx: WebContext, site: Site, link: RatingLink, values: ratings.RatingInput,
                errors: dict[str, str], saved: bool = False, confirm_not_counted: bool = False,
                status: int = 200) -> HTMLResponse:
    spec, token = link.spec, link.token
    scale = spec.scale
    options = [(str(v), str(v), scale["labels"].get(str(v), "")) for v in range(int(scale["min"]), int(scale["max"]) + 1)]
    options.append((ratings.NOT_ENOUGH_INFORMATION, "N/A", "Not enough information"))
    wording = ctx.library.category_rules(ctx.library.baseline.data["association"], spec.category, ctx.today()).role_wording
    # Where each error's field is on the page, and its name, for the summary at the top.
    labels = {a.key: (area_anchor(a.key), a.name) for d in spec.domains for a in d.areas}
    labels |= {"known_for_months": ("known_for_months", "Months known"), "relationship": ("relationship", "Role"),
               "recommendation": ("rec-recommend", "Recommendation"), "attested": ("attested", "Attestation"),
               "declined_reason": ("declined_reason", "Why you cannot rate")}
    return site.pages.TemplateResponse(request, "rater/rate.html", {
        "spec": spec, "values": values, "errors": errors, "saved": saved, "scale_options": options,
        "blank_areas": blank_areas(site, spec, options) if not values.answers and not errors else None,
        "csrf": csrf_for(ctx.secret_key, token), "action": f"/rate/{token}", "decline_action": f"/rate/{token}/decline",
        "role_words": wording.get(spec.role, spec.role).replace("your ", "their ").replace("you", "the applicant"),
        "na_count": spec.insufficient_count(values), "labels": labels,
        "confirm_not_counted": confirm_not_counted,
    }, status_code=status)


def blank_areas(site: Site, spec: ratings.RatingFormSpec, options: list[tuple[str, str, str]]) -> Markup:
    """The areas to rate with nothing chosen: the same HTML for every link of a category under one scale,
    rendered once (most of the page's rendering time: 61 areas × 5 choices) and reused."""
    key = ("rating areas", spec.category, tuple(options))
    if key not in site.fragments:
        html = site.pages.env.get_template("rater/_rate_areas.html").render(
            spec=spec, values=ratings.RatingInput(), errors={}, scale_options=options)
        site.fragments[key] = Markup(html)  # already escaped by the template (autoescape)
    return site.fragments[key]


@router.get("/{token}", response_class=HTMLResponse)
async def rating_form(request: Request, ctx: Ctx, site: SiteDep, link: RatingLinkDep, saved: bool = False):
    if link.spec.status in ("submitted", "declined"):
        return thanks(request, site, declined=link.spec.status == "declined")
    return render_form(request, ctx, site, link, link.values, {}, saved=saved)


def return_anchor(spec: ratings.RatingFormSpec, values: ratings.RatingInput, at: str) -> str:
    """Where "Save draft" brings the rater back: the question they were on (sent by the script), else
    the first one still unanswered."""
    keys = [a.key for d in spec.domains for a in d.areas]
    if at in {area_anchor(k) for k in keys} | {"about"}:
        return at
    return next((area_anchor(k) for k in keys if k not in values.answers), "about")


@router.post("/{token}", response_class=HTMLResponse)
async def rating_submit(request: Request, ctx: Ctx, site: SiteDep, link: RatingLinkDep, form: LinkForm):
    spec = link.spec
    if spec.status in ("submitted", "declined"):
        return thanks(request, site, declined=spec.status == "declined", status=409)
    values, errors = rating_input(form)
    final = form.get("action") == "submit"
    if final and not errors and spec.would_not_count(values) and form.get("confirm_not_counted") != "yes":
        # Too many "not enough information": say what that means before anything is submitted.
        return render_form(request, ctx, site, link, values, {}, confirm_not_counted=True)
    if not errors:
        try:
            outcome = ratings.save_rating(ctx.sessions, link.token, values, library=ctx.library, as_of=ctx.today(),
                                          submit=final)
        except ratings.RatingInvalid as exc:
            errors = exc.errors
        except ratings.AlreadySubmitted:
            return thanks(request, site, status=409)
        else:
            if outcome == "submitted":
                ctx.on_event(spec.application_id)
                return message(request, site, "Thank you: your rating is submitted",
                               f"Your rating of {spec.applicant_name} has been recorded.",
                               "You can close this page.")
            if form.get("autosave") == "1":
                return Response(status_code=204)
            anchor = return_anchor(spec, values, str(form.get("at", "")))
            return RedirectResponse(f"/rate/{link.token}?saved=true#{anchor}", status_code=303)
    return render_form(request, ctx, site, link, values, errors, status=422)


@router.post("/{token}/decline", response_class=HTMLResponse)
async def rating_decline(request: Request, ctx: Ctx, site: SiteDep, link: RatingLinkDep, form: LinkForm):
    try:
        ratings.decline_rating(ctx.sessions, link.token, str(form.get("declined_reason", "")), library=ctx.library,
                               as_of=ctx.today())
    except ratings.RatingInvalid as exc:
        return render_form(request, ctx, site, link, link.values, exc.errors, status=422)
    except ratings.AlreadySubmitted:
        return thanks(request, site, status=409)
    ctx.on_event(link.spec.application_id)
    return thanks(request, site, declined=True)


def rating_input(form) -> tuple[ratings.RatingInput, dict[str, str]]:
    """Form fields → RatingInput, keeping whatever the rater typed even when it is wrong."""
    errors: dict[str, str] = {}
    answers = {k.removeprefix("answer:"): str(v) for k, v in form.multi_items() if k.startswith("answer:")}
    known_raw = str(form.get("known_for_months", "")).strip()
    known = None
    if known_raw:
        if re.fullmatch(r"[0-9]{1,4}", known_raw) and int(known_raw) <= 1200:  # ASCII digits only: "²" is isdigit()
            known = int(known_raw)
        else:
            errors["known_for_months"] = "write a whole number of months, for example 18"
    rec = str(form.get("recommendation", "")) or None
    if rec not in (None, "recommend", "recommend_with_reservations", "do_not_recommend"):
        errors["recommendation"] = "choose one of the three recommendations"
        rec = None
    values = ratings.RatingInput(
        answers=answers, known_for_months=known, relationship=(str(form.get("relationship", "")).strip()[:200] or None),
        recommendation=rec, comments=(str(form.get("comments", ""))[:20_000] or None),
        attested=form.get("attested") == "yes")
    return values, errors
