"""A Loom app whose catalog holds a bundle of two `jira-ticket` items and whose JIRA
instance `main` is the fake, with helpers to submit a request and run its tasks through
the worker: for the request-level JIRA tests (actions and the request page)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI

from loom.app import create_app
from loom.catalog.sync import sync
from loom.demo.fakes.jira import FakeJira
from loom.platform.runtime import Runtime
from loom.provisioning.dispatch import TASK_QUEUE, enqueue_for
from loom.queue.factory import queue_for
from loom.secrets.crypto import derive_key
from loom.workers.execute import executor_for_runtime
from loom.workers.fast_path import fast_path_for
from loom.workers.runner import Outcome, run_task
from tests.catalog.conftest import write_catalog
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for

PUBLIC_URL = "https://loom.acme.test"

REVIEW = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {id: lb-review, name: Load balancer review, category: networking}
spec:
  form:
    fields:
      - {id: name, type: string, required: true}
      - {id: public, type: boolean, default: false}
  fulfillment:
    actions:
      - id: review
        type: jira-ticket
        config: {summary: "Review {{ .current.name }}", labels: [review]}
"""

FIREWALL = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {id: firewall, name: Firewall rule, category: networking}
spec:
  form:
    fields: [{id: name, type: string, required: true}]
  fulfillment:
    actions:
      - id: open
        type: jira-ticket
        config: {project: SEC, summary: "Open 443 for {{ .current.name }}"}
"""

BUNDLE = """\
apiVersion: loom/v1
kind: CatalogBundle
metadata: {id: edge-service, name: Edge service, category: bundles}
spec:
  form:
    fields: [{id: name, type: string, required: true}]
  components:
    - {id: review, item: lb-review}
    - {id: firewall, item: firewall, dependsOn: [review]}
"""


async def jira_app(database_url: str, tmp_path: Path, jira: FakeJira) -> AsyncIterator[FastAPI]:
    """The app, its catalog synced; use as `async for app in jira_app(...)` in a fixture."""
    repo = write_catalog(
        tmp_path / "repo",
        {"catalog/review.yaml": REVIEW, "catalog/firewall.yaml": FIREWALL,
         "bundles/edge.yaml": BUNDLE},
    )  # fmt: skip
    main = {"base_url": jira.url, "email": jira.email, "token": jira.token,
            "default_project": "OPS"}  # fmt: skip
    settings = make_settings(
        database_url,
        catalog={"source": str(repo), "cache_dir": str(tmp_path / "cache")},
        integrations={"jira": {"main": main}},
        server={"public_url": PUBLIC_URL},
    )
    application = create_app(settings, background=False)
    async with application.router.lifespan_context(application):
        record = await sync(application.state.runtime, trigger="test")
        assert record.status == "ok", record.problems
        yield application


async def api_client(app: FastAPI) -> httpx.AsyncClient:
    headers = bearer(await token_for(app, ADMIN_EMAIL))
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://loom.test", headers=headers)


async def submit(api: httpx.AsyncClient, name: str = "lb-1") -> str:
    body = {"item": "edge-service", "team": "platform", "inputs": {"name": name}}
    response = await api.post("/api/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def run_next(runtime: Runtime) -> Outcome:
    """Take the next task message and run it as a worker would."""
    queue = queue_for(runtime, TASK_QUEUE)
    [message] = await queue.receive(1, 30.0)
    outcome = await run_task(
        runtime.sessions, message.body, receive_count=message.receive_count, max_receives=3,
        secrets_key=derive_key(runtime.settings.secret_key.get_secret_value()),
        execute=executor_for_runtime(runtime), enqueue=enqueue_for(runtime), timeout_seconds=30,
        fast=fast_path_for(runtime, queue, 1),
    )  # fmt: skip
    await queue.delete(message.receipt)
    return outcome
