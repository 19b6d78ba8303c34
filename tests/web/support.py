"""Shared by the portal's request and queue page tests: a catalog to request from, people
who can sign in (a viewer, an operator and an admin in each of two teams), clients signed
in as them, and the state changes a worker makes (without running one)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from loom.audit.service import Actor
from loom.auth.models import User
from loom.auth.passwords import hash_password
from loom.catalog.sync import sync
from loom.platform.runtime import Runtime
from loom.provisioning.states import RequestState, TaskState
from loom.provisioning.transitions import lock_request, set_request_state, set_task_state
from loom.settings import Settings
from tests.catalog.conftest import BUNDLE, CODEOWNERS, NAMESPACE, POSTGRES, write_catalog
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Tenant, make_settings
from tests.web.conftest import sign_in

PASSWORD = "portal-password-1"
WORKER = Actor.system("worker")

#: Two tasks, the second reading the first's output; a secret kept apart.
DNS = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {id: dns-record, name: DNS record, category: networking}
spec:
  form:
    fields:
      - {id: name, type: string, title: Record name, required: true, pattern: "[a-z][a-z0-9-]*"}
      - {id: token, type: secret, title: API token, required: true}
  fulfillment:
    actions:
      - id: create
        type: rest-api
        config:
          url: "https://dns.internal.example/records"
          headers: {X-Api-Token: "${secret:token}"}
          json: {name: "{{ .current.name }}"}
        outputs: [record_id]
      - id: verify
        type: rest-api
        config: {method: GET, url: "https://dns.internal.example/records/{{ .output.record_id }}"}
"""


def catalog_settings(database_url: str, tmp_path: Path) -> Settings:
    repo = write_catalog(
        tmp_path / "catalog-repo",
        {
            "catalog/databases/postgres.yaml": POSTGRES,
            "catalog/kubernetes/namespace.yaml": NAMESPACE,
            "catalog/networking/dns.yaml": DNS,
            "bundles/web-service.yaml": BUNDLE,
            "CODEOWNERS": CODEOWNERS,
        },
    )
    return make_settings(
        database_url, catalog={"source": str(repo), "cache_dir": str(tmp_path / "cache")}
    )


async def synced(app: FastAPI) -> FastAPI:
    record = await sync(app.state.runtime, trigger="test")
    assert record.status == "ok", record.problems
    return app


async def give_passwords(app: FastAPI, tenant: Tenant) -> None:
    """The tenant's people may sign in to the portal with PASSWORD."""
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(
            update(User)
            .where(User.email.like("%-_@loom.test"))
            .values(password_hash=hash_password(PASSWORD))
        )


SignedIn = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def signed_in_as(app: FastAPI) -> AsyncIterator[SignedIn]:
    """A factory of portal clients, each signed in as the person named."""
    clients: list[httpx.AsyncClient] = []

    async def open_as(email: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://loom.test")
        clients.append(client)
        password = ADMIN_PASSWORD if email == ADMIN_EMAIL else PASSWORD
        response = await sign_in(client, email=email, password=password)
        assert response.status_code == 303, (email, response.text)
        return client

    yield open_as
    for client in clients:
        await client.aclose()


async def submit_api(
    app: FastAPI,
    headers: dict[str, str],
    item: str = "postgres",
    team: str = "team-a",
    **inputs: Any,
) -> str:
    """A request made through the API; its id."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as api:
        body = {"item": item, "team": team, "inputs": inputs or {"name": "orders"}}
        response = await api.post("/api/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def work(
    runtime: Runtime,
    request_id: str,
    *,
    error: str | None = None,
    outputs: dict[str, Any] | None = None,
    refs: dict[str, Any] | None = None,
) -> None:
    """What a worker does with the request's next queued task: it completes (with these
    outputs and references; the last one completes the request) or fails."""
    async with runtime.sessions() as s, s.begin():
        request = await lock_request(s, uuid.UUID(request_id))
        await s.refresh(request, ["tasks"])
        task = next(t for t in request.tasks if t.state == TaskState.QUEUED)
        if request.state in (RequestState.SUBMITTED, RequestState.RETRYING):
            await set_request_state(s, request, RequestState.PROCESSING, WORKER)
        await set_task_state(s, request, task, TaskState.PROCESSING)
        if error is not None:
            await set_task_state(s, request, task, TaskState.FAILED, error=error)
            await set_request_state(s, request, RequestState.FAILED, WORKER, error=error)
            return
        await set_task_state(
            s, request, task, TaskState.COMPLETED, outputs=outputs or {}, external_refs=refs or {}
        )
        after = [t for t in request.tasks if t.position == task.position + 1]
        if after:
            await set_task_state(s, request, after[0], TaskState.QUEUED)
        else:
            await set_request_state(s, request, RequestState.COMPLETED, WORKER)
