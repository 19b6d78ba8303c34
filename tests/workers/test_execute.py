"""execute: a task attempted before looks for the effect of the earlier attempt first —
whether its worker died (redelivery) or a person retried it — so a call that took effect
but failed to answer is not made twice; `.system.taskId` reaches the lookup."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from loom.app import create_app
from loom.catalog.sync import sync
from loom.demo.fakes import FakeServer, RecordedCall, Reply
from loom.platform.runtime import Runtime
from loom.provisioning.dispatch import TASK_QUEUE, enqueue_for
from loom.queue.factory import queue_for
from loom.secrets.crypto import derive_key
from loom.workers.execute import executor_for_runtime
from loom.workers.fast_path import fast_path_for
from loom.workers.runner import Outcome, run_task
from tests.catalog.conftest import write_catalog
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for

ITEM = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {{id: record, name: Record, category: misc}}
spec:
  form:
    fields: [{{id: name, type: string, required: true}}]
  fulfillment:
    actions:
      - id: create
        type: rest-api
        config:
          url: "{base}/records"
          json: {{name: "{{{{ .current.name }}}}"}}
          expectStatus: [201]
          outputMap: {{record_id: response.body.id}}
          reconcile:
            url: "{base}/records/{{{{ .system.taskId }}}}"
            outputMap: {{record_id: response.body.id}}
        outputs: [record_id]
"""


class Records:
    """An API that creates the record, then fails to say so (a 502 from its proxy)."""

    def __init__(self) -> None:
        self.by_key: dict[str, str] = {}

    def create(self, call: RecordedCall) -> Reply:
        self.by_key[call.headers["idempotency-key"]] = f"r-{len(self.by_key) + 1}"
        return Reply(502, body="bad gateway")

    def find(self, call: RecordedCall) -> Reply:
        found = self.by_key.get(call.params["key"])
        return Reply(json={"id": found}) if found else Reply(404)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@pytest.fixture
async def app(database_url: str, tmp_path: Path, server: FakeServer) -> AsyncIterator[FastAPI]:
    repo = write_catalog(tmp_path / "repo", {"catalog/record.yaml": ITEM.format(base=server.url)})
    settings = make_settings(
        database_url, allowed_hosts=["127.0.0.1"], catalog={"source": str(repo)}
    )
    application = create_app(settings, background=False)
    async with application.router.lifespan_context(application):
        record = await sync(application.state.runtime, trigger="test")
        assert record.status == "ok", record.problems
        yield application


async def run_next(runtime: Runtime) -> Outcome:
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


async def test_a_retried_task_finds_the_effect_of_its_failed_attempt(
    app: FastAPI, server: FakeServer
) -> None:
    records = Records()
    server.route("POST", "/records", records.create)
    server.route("GET", "/records/(?P<key>[^/]+)", records.find)
    runtime: Runtime = app.state.runtime
    headers = bearer(await token_for(app, ADMIN_EMAIL))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as api:
        body = {"item": "record", "team": "platform", "inputs": {"name": "shop"}}
        request_id = (await api.post("/api/v1/requests", json=body)).json()["id"]
        assert await run_next(runtime) is Outcome.FAILED
        assert [call.method for call in server.calls] == ["POST"]  # no lookup the first time

        assert (await api.post(f"/api/v1/requests/{request_id}/retry")).status_code == 200
        assert await run_next(runtime) is Outcome.COMPLETED
        request = (await api.get(f"/api/v1/requests/{request_id}")).json()
        logs = (await api.get(f"/api/v1/requests/{request_id}/logs")).json()

    task_id = request["tasks"][0]["id"]
    assert [(call.method, call.path) for call in server.calls] == [
        ("POST", "/records"),
        ("GET", f"/records/{task_id}"),
    ]
    assert request["state"] == "completed"
    assert request["outputs"] == {"record_id": "r-1"}
    messages = [line["message"] for line in logs]
    assert "found the effect of an earlier attempt: not calling again" in messages
