"""A request carried out for real: the worker renders the action's templates (form
values, earlier outputs, system values), calls a local HTTP server through the guarded
client, maps the response into outputs, and the next task sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from loom.app import create_app
from loom.catalog.sync import sync
from loom.demo.fakes import FakeServer, Reply
from loom.platform.runtime import Runtime
from loom.workers.runner import Outcome
from tests.catalog.conftest import write_catalog
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for
from tests.provisioning.waits_support import drain

ITEM = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {{id: dns-record, name: DNS record, category: networking, owner: platform}}
spec:
  form:
    fields:
      - {{id: name, type: string, required: true}}
      - {{id: token, type: secret, required: true}}
  fulfillment:
    actions:
      - id: create
        type: rest-api
        config:
          url: "{base}/records"
          headers: {{X-Api-Token: "${{secret:token}}"}}
          json: {{name: "{{{{ .current.name }}}}", by: "{{{{ .system.user.email }}}}", owner: "{{{{ .metadata.dns-record.owner }}}}"}}
          expectStatus: [201]
          outputMap: {{record_id: response.body.id}}
        outputs: [record_id]
      - id: verify
        type: rest-api
        config:
          method: GET
          url: "{base}/records/{{{{ .output.record_id }}}}"
          outputMap: {{fqdn: response.body.fqdn}}
        outputs: [fqdn]
"""


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        fake.route("POST", "/records", Reply(201, json={"id": "r-42"}))
        fake.route("GET", "/records/r-42", Reply(json={"fqdn": "shop.example.com"}))
        yield fake


@pytest.fixture
async def app(database_url: str, tmp_path: Path, server: FakeServer) -> AsyncIterator[FastAPI]:
    repo = write_catalog(tmp_path / "repo", {"catalog/dns.yaml": ITEM.format(base=server.url)})
    settings = make_settings(
        database_url, allowed_hosts=["127.0.0.1"], catalog={"source": str(repo)}
    )
    application = create_app(settings, background=False)
    async with application.router.lifespan_context(application):
        record = await sync(application.state.runtime, trigger="test")
        assert record.status == "ok", record.problems
        yield application


async def test_request_runs_for_real_against_a_local_api(app: FastAPI, server: FakeServer) -> None:
    runtime: Runtime = app.state.runtime
    headers = bearer(await token_for(app, ADMIN_EMAIL))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as api:
        body = {"item": "dns-record", "team": "platform",
                "inputs": {"name": "shop", "token": "t0ps3cret"}}  # fmt: skip
        submitted = await api.post("/api/v1/requests", json=body)
        assert submitted.status_code == 201, submitted.text
        request_id = submitted.json()["id"]

        outcomes = await drain(runtime)
        assert outcomes == [Outcome.COMPLETED, Outcome.COMPLETED]

        request = (await api.get(f"/api/v1/requests/{request_id}")).json()
        logs = (await api.get(f"/api/v1/requests/{request_id}/logs")).text
    assert request["state"] == "completed"
    assert request["outputs"] == {"record_id": "r-42", "fqdn": "shop.example.com"}
    create, verify = server.calls
    assert create.json() == {"name": "shop", "by": ADMIN_EMAIL, "owner": "platform"}
    assert create.headers["x-api-token"] == "t0ps3cret"  # the secret reached only the action
    assert create.headers["idempotency-key"]  # so the API can dedupe a redelivered attempt
    assert verify.path == "/records/r-42"
    assert "t0ps3cret" not in logs and "t0ps3cret" not in str(request)
