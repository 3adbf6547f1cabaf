"""What every response and request goes through: security headers, relative redirects, and how the
app is served (which proxies' forwarded headers are believed). Plain ASGI: no per-request overhead
beyond a header list."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Path

# Database ids are 32-bit on PostgreSQL: a larger number in a link is a 404, not a database error.
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]

# Scripts only as files from this site (/static/forms.js enhances the long forms; every page works
# without it) and never inline; autosave posts back here; nothing framed, forms post only here.
CONTENT_SECURITY_POLICY = ("default-src 'none'; img-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "script-src 'self'; connect-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PERSONAL_PREFIXES = ("/rate/", "/review/", "/advise/", "/apply", "/coordinator/")


class SecurityHeaders:
    """CSP, no framing, no sniffing, no referrer (a link page's address is its secret) on every
    response; pages with personal data are never stored by a browser or proxy. A redirect's Location
    is made relative, so no Host header a client sends can send anyone (and their link) off the site."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        personal = scope["path"].startswith(PERSONAL_PREFIXES)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"location"]
                names = {k.lower() for k, _ in headers}
                for k, v in message.get("headers", []):
                    if k.lower() == b"location":
                        headers.append((k, relative(v.decode("latin-1")).encode("latin-1")))
                headers += [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                            (b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer")]
                if personal and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def relative(location: str) -> str:
    """``https://any.host/a?b`` → ``/a?b``: this app only ever redirects within itself."""
    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc:
        return location
    path = "/" + parts.path.lstrip("/")  # never "//host": that is absolute again
    return path + (f"?{parts.query}" if parts.query else "")


def uvicorn_config(app, *, host: str, port: int, trusted_proxies: list[str], log_level: str = "info"):
    """uvicorn believes X-Forwarded-For from loopback by default, which lets anyone on the machine (or
    behind a careless proxy) pick the address the rate limiter sees. Here forwarded headers are read
    only from the configured proxies (setting ``ENDORSE_TRUSTED_PROXIES``; default none)."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level=log_level, proxy_headers=bool(trusted_proxies),
                          forwarded_allow_ips=list(trusted_proxies) or None, server_header=False)
