"""Secure links for raters and reviewers.

A link's token is never stored. We store a random 128-bit *nonce* and the SHA-256 of the token; the
token itself is HMAC-SHA256(secret key, nonce), so only a holder of the server's secret can turn
what the database holds into a working link. That lets the outbox put the link into an email at
delivery time (and a coordinator resend the same link) without the token ever sitting in the
database, a log or a Prefect parameter. Regenerating draws a new nonce: the old link dies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

NONCE_BYTES = 16  # 128 bits of randomness behind every link
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class IssuedLink:
    nonce: str  # stored
    token_hash: str  # stored, indexed for look-up


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def token_for(nonce: str, secret_key: str, purpose: str) -> str:
    """The token of a link; ``purpose`` ('rating', 'review') keeps one kind from opening another."""
    mac = hmac.new(secret_key.encode(), f"{purpose}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(secret_key: str, purpose: str) -> IssuedLink:
    nonce = new_nonce()
    return IssuedLink(nonce=nonce, token_hash=hash_token(token_for(nonce, secret_key, purpose)))


def well_formed(token: str) -> bool:
    """Cheap shape check before any database look-up (refuses junk and oversized input)."""
    return bool(_TOKEN_SHAPE.match(token or ""))


def matches(token: str, stored_hash: str | None) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    if stored_hash is None:
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)
