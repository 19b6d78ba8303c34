"""GitHub push webhook: a signed push that touches catalog/, bundles/ (or the folder of a
registered document kind, such as services/) or CODEOWNERS on the catalog's branch
triggers a sync. The only authentication is the HMAC signature (`X-Hub-Signature-256`)
over the raw body with the configured secret; a missing or bad signature is a 401 and
nothing happens."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from loom.api.deps import RuntimeDep
from loom.catalog.codeowners import LOCATIONS
from loom.catalog.extensions import BUILTIN_FOLDERS, registered
from loom.catalog.jobs import start_sync
from loom.errors import InvalidInput, NotAuthenticated, NotFound

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
log = structlog.get_logger("loom.catalog.webhook")
MAX_BODY = 5 * 1024 * 1024


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def touches_catalog(payload: dict[str, Any]) -> bool:
    paths: set[str] = set()
    for commit in [*payload.get("commits", []), payload.get("head_commit") or {}]:
        for key in ("added", "modified", "removed"):
            paths.update(p for p in commit.get(key, []) if isinstance(p, str))
    watched = tuple(f"{d}/" for d in (*BUILTIN_FOLDERS, *(k.folder for k in registered().values())))
    return any(p.startswith(watched) or p in LOCATIONS for p in paths)


@router.post("/github", status_code=202)
async def github(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Receive a GitHub webhook (push or ping) for the catalog repository."""
    secret = runtime.settings.catalog.webhook_secret
    if secret is None or not secret.get_secret_value():
        raise NotFound("the GitHub webhook is not configured (set LOOM_CATALOG__WEBHOOK_SECRET)")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidInput.on("body", "webhook payload too large")
    if not signature_valid(
        secret.get_secret_value(), body, request.headers.get("x-hub-signature-256")
    ):
        raise NotAuthenticated("missing or invalid X-Hub-Signature-256")
    event = request.headers.get("x-github-event", "")
    if event == "ping":
        return JSONResponse({"status": "pong"}, status_code=200)
    if event != "push":
        return JSONResponse({"status": "ignored", "reason": f"event '{event}'"}, status_code=202)
    try:
        payload = json.loads(body)
    except ValueError:
        raise InvalidInput.on("body", "not valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidInput.on("body", "must be a JSON object")
    branch = runtime.settings.catalog.branch
    if payload.get("ref") != f"refs/heads/{branch}":
        return JSONResponse(
            {"status": "ignored", "reason": f"not branch {branch}"}, status_code=202
        )
    if not touches_catalog(payload):
        return JSONResponse({"status": "ignored", "reason": "no catalog change"}, status_code=202)
    start_sync(runtime, "webhook")
    log.info("catalog sync started by push", after=payload.get("after"))
    return JSONResponse({"status": "sync started"}, status_code=202)
