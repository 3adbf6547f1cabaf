"""Liveness and readiness probes (the checks themselves are in ``web.health``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from web.health import readiness

router = APIRouter()


@router.get("/healthz", response_class=PlainTextResponse)
async def healthz() -> str:
    return "ok"  # the process answers; /readyz says whether what it needs answers too


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:  # sync: the checks block for up to a few seconds, off the event loop
    ok, body = readiness(request.app.state.readiness_checks)
    return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})
