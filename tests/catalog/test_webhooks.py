"""The GitHub push webhook: only a correctly signed push that touches the catalog on its
branch starts a sync; anything forged is a 401 and changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from loom.catalog.jobs import pending_syncs
from loom.catalog.models import CatalogSync
from loom.platform.runtime import Runtime
from tests.catalog.conftest import POSTGRES, write_catalog

SECRET = "s3cret"


def push(paths: list[str], ref: str = "refs/heads/main") -> dict[str, Any]:
    return {
        "ref": ref,
        "after": "abc123",
        "commits": [{"id": "abc123", "added": [], "modified": paths, "removed": []}],
        "head_commit": {"id": "abc123", "added": [], "modified": paths, "removed": []},
    }


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def deliver(
    app: FastAPI, payload: dict[str, Any], *, event: str = "push", signature: str | None = "ok"
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json"}
    if signature == "ok":
        headers["X-Hub-Signature-256"] = signed(body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/api/v1/webhooks/github", content=body, headers=headers)


async def syncs(runtime: Runtime) -> int:
    await asyncio.gather(*pending_syncs(runtime))
    async with runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(CatalogSync)) or 0)


async def test_signed_push_touching_catalog_syncs(
    catalog_app: FastAPI, synced: Runtime, catalog_dir: Path
) -> None:
    write_catalog(
        catalog_dir,
        {"catalog/databases/postgres.yaml": POSTGRES.replace("version: 1.0.0", "version: 3.0.0")},
    )
    response = await deliver(catalog_app, push(["catalog/databases/postgres.yaml"]))
    assert response.status_code == 202 and response.json()["status"] == "sync started"
    assert await syncs(synced) == 2
    async with synced.sessions() as s:
        last = await s.scalar(select(CatalogSync).order_by(CatalogSync.started_at.desc()))
    assert last is not None and last.trigger == "webhook" and last.changed == 1


@pytest.mark.parametrize(
    "signature",
    [None, "sha256=" + "0" * 64, "sha1=abc", "forged"],
    ids=["missing", "wrong-digest", "wrong-algorithm", "garbage"],
)
async def test_bad_or_missing_signature_is_401_and_nothing_happens(
    catalog_app: FastAPI, synced: Runtime, signature: str | None
) -> None:
    response = await deliver(catalog_app, push(["catalog/x.yaml"]), signature=signature)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert await syncs(synced) == 1


async def test_signature_with_another_secret_is_refused(
    catalog_app: FastAPI, synced: Runtime
) -> None:
    body = json.dumps(push(["catalog/x.yaml"])).encode()
    response = await deliver(
        catalog_app, push(["catalog/x.yaml"]), signature=signed(body, "other-secret")
    )
    assert response.status_code == 401
    assert await syncs(synced) == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (push(["README.md", "src/app.py"]), "no catalog change"),
        (push(["catalog/x.yaml"], ref="refs/heads/feature"), "not branch main"),
    ],
    ids=["unrelated-files", "other-branch"],
)
async def test_irrelevant_pushes_are_ignored(
    catalog_app: FastAPI, synced: Runtime, payload: dict[str, Any], reason: str
) -> None:
    response = await deliver(catalog_app, payload)
    assert response.status_code == 202 and response.json() == {
        "status": "ignored",
        "reason": reason,
    }
    assert await syncs(synced) == 1


@pytest.mark.parametrize("path", ["bundles/b.yaml", "CODEOWNERS", ".github/CODEOWNERS"])
async def test_bundles_and_codeowners_changes_count(
    catalog_app: FastAPI, synced: Runtime, path: str
) -> None:
    response = await deliver(catalog_app, push([path]))
    assert response.json()["status"] == "sync started"
    assert await syncs(synced) == 2


async def test_ping_answers_pong(catalog_app: FastAPI) -> None:
    response = await deliver(catalog_app, {"zen": "Keep it simple."}, event="ping")
    assert response.status_code == 200 and response.json() == {"status": "pong"}


async def test_unconfigured_webhook_is_404(app: FastAPI) -> None:
    response = await deliver(app, push(["catalog/x.yaml"]))
    assert response.status_code == 404
