from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import select

from endorse import links
from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import ReferenceRequest
from tasks.pipeline import reconcile as pipeline
from tasks.intake.records import ensure_associations, save_document
from web.app import WebContext, create_app

AS_OF = date(2026, 11, 22)
SECRET = "web-test-secret"


@pytest.fixture
def rating_link(sessions):
    """An IMHM-RF application whose student rating is requested: (token, application id)."""
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        doc = load_document(PROJECT_ROOT / "cohort" / "ct-aimh-imhm-rf-rating-requested.json")
        save_document(s, doc, actor="test")
    cfg = pipeline.PipelineConfig(library=default_library(), as_of=AS_OF, secret_key=SECRET)
    pipeline.reconcile_one(sessions, doc.id, cfg)
    with sessions() as s:
        req = s.scalars(select(ReferenceRequest).where(ReferenceRequest.status == "requested")).one()
        return links.token_for(req.token_nonce, SECRET, "rating"), doc.id


def make_web_app(sessions, secret: str = SECRET, as_of: date = AS_OF, requests_per_minute: int = 120):
    """The web app on a test database; the events it raises are kept in ``app.state.events``."""
    events: list[str] = []
    ctx = WebContext(sessions=sessions, library=default_library(), secret_key=secret, today=lambda: as_of,
                     on_event=events.append)
    app = create_app(ctx, str(PROJECT_ROOT / "templates"), requests_per_minute=requests_per_minute)
    app.state.events = events
    return app


@pytest.fixture
def web_app(sessions):
    return make_web_app(sessions)


@contextmanager
def serve_app(app):
    """The app behind a real uvicorn on a free loopback port, for a browser: yields its base address."""
    import socket
    import threading
    import time

    import uvicorn

    from web.guard import uvicorn_config

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=port, trusted_proxies=[], log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
