"""The coordinator's renewals page (/coordinator/renewals): record a renewal document (the JSON of
schema/renewal.schema.json) against one of the association's endorsements, as ``endorse record-renewal``
does, audited under the coordinator's name; an invalid document is refused naming the file and the field."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from web.deps import CoordinatorForm, Ctx, SignedIn, SiteDep, signed_in_coordinator
from web.routers.coordinator import actor, render
from web.routers.coordinator_exam import back_with, refused, uploaded_file

router = APIRouter(prefix="/coordinator/renewals", dependencies=[Depends(signed_in_coordinator)])


@router.get("", response_class=HTMLResponse)
async def renewals_page(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn):
    return render(request, ctx, site, "renewals.html", who)


@router.post("", response_class=HTMLResponse)
async def record_renewal(request: Request, ctx: Ctx, site: SiteDep, who: SignedIn, form: CoordinatorForm):
    from endorse.documents import DocumentError
    from endorse.renewals import parse_renewal
    from tasks.renewal.renewals import record_renewal as record

    try:
        name, body = await uploaded_file(request)
        doc = parse_renewal(body, name)
        out = record(ctx.sessions, doc, ctx.library, as_of=ctx.today(), actor=actor(who), association=who.association)
    except (DocumentError, ValueError, LookupError) as exc:
        return refused(request, ctx, site, who, exc, back="/coordinator/renewals")
    missing = f"; missing: {'; '.join(out.unmet)}" if out.unmet else ""
    return back_with(request, ctx, site, f"{out.endorsement_number} {out.year}: {out.status}; next renewal due "
                                         f"{out.renewal_due_on}{missing}.", to="/coordinator/renewals")
