"""Coordinator sign-in: password hashes, signed session cookies and CSRF tokens.

Standard library only. Passwords are hashed with scrypt (memory-hard, salted); a session is a cookie
``account_id.version.expires.nonce.signature`` signed with HMAC-SHA256 under the server secret, so a
forged or altered cookie fails the constant-time check; the version must match the account's
``session_version``, which sign-out, a password change and deactivation raise: that ends every
session of the account at once. The CSRF
token of a form is an HMAC of the session cookie: a page from another site cannot know it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~16 MB, ~50 ms a check: slow for guessing, fine for a sign-in
SESSION_SECONDS = 8 * 3600  # a working day
# Per-account lockout (next to the per-address rate limit): after LOCK_AFTER failures in a row, sign-in
# is refused, even with the right password, for LOCK_BASE_SECONDS, doubling with each further failure.
LOCK_AFTER = 5
LOCK_BASE_SECONDS = 30
LOCK_MAX_SECONDS = 3600
# The emailed link that sets a coordinator's password works for an hour, once; "forgot your password?"
# sends at most one email per account in PASSWORD_LINK_RESEND_SECONDS (asking again keeps the link).
PASSWORD_LINK_SECONDS = 3600
PASSWORD_LINK_RESEND_SECONDS = 300


def lockout_seconds(failures: int) -> int:
    """How long an account stays locked after ``failures`` failed sign-ins in a row (0: not locked)."""
    if failures < LOCK_AFTER:
        return 0
    return min(LOCK_MAX_SECONDS, LOCK_BASE_SECONDS * 2 ** min(failures - LOCK_AFTER, 20))


def same_secret(presented: str, expected: str) -> bool:
    """Constant-time comparison of two strings, whatever characters the presented one holds
    (``hmac.compare_digest`` refuses non-ASCII ``str``; bytes it compares in constant time)."""
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def hash_password(password: str) -> str:
    if len(password) < 12:
        raise ValueError("a coordinator password needs at least 12 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + base64.b64encode(salt).decode() + "$" + \
        base64.b64encode(digest).decode()


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=base64.b64decode(salt), dklen=32,
                         n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(got, base64.b64decode(digest))


# A hash to check against when the email is unknown, so a wrong email costs as long as a wrong password.
DUMMY_HASH = "scrypt$16384$8$1$" + base64.b64encode(b"\0" * 16).decode() + "$" + base64.b64encode(b"\0" * 32).decode()


@dataclass(frozen=True)
class SessionClaims:
    account_id: int
    version: int  # must equal the account's session_version: raising that ends the session
    expires: int


def _sign(secret: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), b"session:" + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def issue_session(secret: str, account_id: int, version: int = 1, *, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_SECONDS)
    payload = f"{account_id}.{version}.{expires}.{secrets.token_urlsafe(12)}"
    return f"{payload}.{_sign(secret, payload)}"


def read_session(secret: str, cookie: str | None, *, now: float | None = None) -> SessionClaims | None:
    """The claims of a valid, unexpired cookie; None for anything else."""
    if not cookie or len(cookie) > 200:
        return None
    payload, _, signature = cookie.rpartition(".")
    if not payload or not same_secret(signature, _sign(secret, payload)):
        return None
    try:
        account, version, expires, _nonce = payload.split(".", 3)
        claims = SessionClaims(int(account), int(version), int(expires))
    except ValueError:
        return None
    return claims if claims.expires > (now or time.time()) else None


def csrf_token(secret: str, bound_to: str) -> str:
    """A form token bound to a session cookie (or, before sign-in, to a pre-session cookie)."""
    return hmac.new(secret.encode(), b"csrf-coordinator:" + bound_to.encode(), hashlib.sha256).hexdigest()[:40]


def csrf_ok(secret: str, bound_to: str | None, presented: str | None) -> bool:
    return bool(bound_to) and same_secret(str(presented or ""), csrf_token(secret, bound_to))


def flash_cookie(secret: str, session_cookie: str, notice: str) -> str:
    """A one-time notice for the next page, signed and bound to the session: only this server can
    write what a coordinator page announces (a ``?notice=`` in the address could say anything)."""
    body = base64.urlsafe_b64encode(notice.encode()[:1000]).decode()
    return body + "." + _sign(secret, "flash:" + session_cookie + ":" + body)


def read_flash(secret: str, session_cookie: str | None, cookie: str | None) -> str:
    if not cookie or not session_cookie or len(cookie) > 2000:
        return ""
    body, _, signature = cookie.rpartition(".")
    if not body or not same_secret(signature, _sign(secret, "flash:" + session_cookie + ":" + body)):
        return ""
    try:
        return base64.urlsafe_b64decode(body.encode()).decode()
    except (ValueError, UnicodeError):
        return ""
