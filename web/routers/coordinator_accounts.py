"""Coordinator accounts on the web: the association admin's page (/coordinator/accounts: list, add,
close, grant and revoke the admin role) and, before sign-in, "forgot your password?" and the emailed link that sets a password.

Handlers translate HTTP into calls on ``tasks.coordination.accounts``; the rules (who may close whom,
single-use expiring links, one email per account per few minutes, the last admin stays) live there."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from tasks.coordination import accounts
from web.deps import Admin, CoordinatorForm, Ctx, LinkNotWorking, NotYours, SiteDep, StaleForm, signed_in_admin
from web.forms import read_form
from web.guard import DbId
from web.routers.coordinator import actor, login_page, pre_session_csrf_ok, pre_session_page, render
from web.routers.coordinator_exam import back_with

router = APIRouter(prefix="/coordinator/accounts", dependencies=[Depends(signed_in_admin)])
# Under /coordinator/login: the same per-address rate limit as the sign-in form (web/app.py).
password_router = APIRouter(prefix="/coordinator/login")


# --- the admin's page ------------------------------------------------------------------------------------

def _accounts_page(request: Request, ctx: Ctx, site: SiteDep, who: Admin, status: int = 200, error: str = "",
                   values: dict | None = None):
    with ctx.sessions() as s:
        listed = accounts.accounts_of(s, who.association)
    return render(request, ctx, site, "accounts.html", who, status=status, accounts=listed, error=error,
                  values=values or {})


@router.get("", response_class=HTMLResponse)
async def accounts_page(request: Request, ctx: Ctx, site: SiteDep, who: Admin):
    return _accounts_page(request, ctx, site, who)


@router.post("", response_class=HTMLResponse)
async def add_account(request: Request, ctx: Ctx, site: SiteDep, who: Admin, form: CoordinatorForm):
    values = {"name": form.get("name", "")[:300], "email": form.get("email", "")[:300],
              "admin": form.get("admin") == "yes"}
    try:
        accounts.invite_coordinator(ctx.sessions, association=who.association, name=values["name"],
                                    email=values["email"], admin=values["admin"], actor=actor(who),
                                    secret_key=ctx.secret_key)
    except ValueError as exc:
        return _accounts_page(request, ctx, site, who, status=422, error=str(exc), values=values)
    return back_with(request, ctx, site, f"{values['email'].strip()} added; an email with a link to set their "
                                         f"password is on its way.", to="/coordinator/accounts")


@router.post("/{account_id}/deactivate", response_class=HTMLResponse)
async def close_account(request: Request, ctx: Ctx, site: SiteDep, who: Admin, account_id: DbId,
                        form: CoordinatorForm):
    try:
        email = accounts.close_account(ctx.sessions, account_id, association=who.association,
                                       by_account=who.account_id, actor=actor(who))
    except LookupError:
        raise NotYours(who) from None
    except ValueError as exc:
        return _accounts_page(request, ctx, site, who, status=422, error=str(exc))
    return back_with(request, ctx, site, f"{email} can no longer sign in; every session of theirs has ended.",
                     to="/coordinator/accounts")


@router.post("/{account_id}/admin", response_class=HTMLResponse)
async def set_admin(request: Request, ctx: Ctx, site: SiteDep, who: Admin, account_id: DbId, form: CoordinatorForm):
    grant = form.get("admin") == "yes"
    try:
        changed = accounts.set_admin(ctx.sessions, account_id, association=who.association, admin=grant,
                                     actor=actor(who))
    except LookupError:
        raise NotYours(who) from None
    except ValueError as exc:
        return _accounts_page(request, ctx, site, who, status=422, error=str(exc))
    notice = ("Nothing changed." if not changed else
              "The account is now an admin: it may add and close accounts and change who is an admin." if grant else
              "The account is no longer an admin.")
    # Who stepped down as admin may no longer open the accounts page: back to the dashboard.
    to = "/coordinator/" if account_id == who.account_id and not grant and changed else "/coordinator/accounts"
    return back_with(request, ctx, site, notice, to=to)


# --- forgot your password? and the link that sets one ----------------------------------------------------------

@password_router.get("/forgot", response_class=HTMLResponse)
async def forgot_page(request: Request, ctx: Ctx, site: SiteDep):
    return pre_session_page(request, ctx, site, "forgot.html", sent=False, email="")


@password_router.post("/forgot", response_class=HTMLResponse)
async def forgot(request: Request, ctx: Ctx, site: SiteDep):
    form = await read_form(request)
    if not pre_session_csrf_ok(request, ctx, form):
        raise StaleForm("The form was out of date. Open the page again.")
    email = str(form.get("email", "")).strip()[:254]
    await run_in_threadpool(accounts.request_password_reset, ctx.sessions, email, secret_key=ctx.secret_key)
    # The same answer whether or not the address has an account: only its mailbox learns more.
    return pre_session_page(request, ctx, site, "forgot.html", sent=True, email=email)


def _holder(ctx, token: str) -> str:
    try:
        return accounts.password_link_holder(ctx.sessions, token)
    except accounts.PasswordLinkNotWorking:
        raise LinkNotWorking() from None


@password_router.get("/password/{token}", response_class=HTMLResponse)
async def set_password_page(request: Request, ctx: Ctx, site: SiteDep, token: str):
    return pre_session_page(request, ctx, site, "set_password.html", email=_holder(ctx, token), token=token,
                            error="")


@password_router.post("/password/{token}", response_class=HTMLResponse)
async def set_password(request: Request, ctx: Ctx, site: SiteDep, token: str):
    email = _holder(ctx, token)  # an unknown link is the 404 page before the form is judged
    form = await read_form(request)
    if not pre_session_csrf_ok(request, ctx, form):
        raise StaleForm("The form was out of date. Open the link again.")
    password, again = str(form.get("password", ""))[:1024], str(form.get("password_again", ""))[:1024]
    error = "password: the two passwords differ" if password != again else ""
    if not error:
        try:
            await run_in_threadpool(accounts.set_password_by_link, ctx.sessions, token, password)
        except accounts.PasswordLinkNotWorking:
            raise LinkNotWorking() from None
        except ValueError as exc:
            error = f"password: {exc}"
    if error:
        return pre_session_page(request, ctx, site, "set_password.html", status=422, email=email, token=token,
                                error=error)
    return login_page(request, ctx, site, email=email,
                      notice="Your password is set, and every earlier session has ended. Sign in with it.")
