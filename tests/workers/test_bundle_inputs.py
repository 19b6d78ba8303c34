"""A bundle whose second component takes its input from the first one's output: the
worker renders that input just before the task runs, and the API refuses a submission
whose component input does not fit its item's form."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from loom.app import create_app
from loom.catalog.sync import sync
from loom.demo.fakes import FakeServer, Reply
from loom.workers.runner import Outcome
from tests.catalog.conftest import write_catalog
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for
from tests.provisioning.waits_support import drain

RECORD = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {{id: record, name: DNS record, category: networking}}
spec:
  form:
    fields:
      - {{id: host, type: string, required: true, pattern: "[a-z0-9-]+"}}
  fulfillment:
    actions:
      - id: create
        type: rest-api
        config:
          url: "{base}/records"
          json: {{host: "{{{{ .current.host }}}}"}}
          expectStatus: [201]
          outputMap: {{record_id: response.body.id}}
        outputs: [record_id]
"""

CHECK = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {{id: check, name: Uptime check, category: monitoring}}
spec:
  form:
    fields:
      - {{id: target, type: string, required: true, pattern: "r-[0-9]+"}}
      - {{id: label, type: string, required: true, maxLength: 12}}
  fulfillment:
    actions:
      - id: watch
        type: rest-api
        config:
          url: "{base}/checks"
          json: {{target: "{{{{ .current.target }}}}", label: "{{{{ .current.label }}}}"}}
          expectStatus: [201]
"""

BUNDLE = """\
apiVersion: loom/v1
kind: CatalogBundle
metadata: {id: monitored-host, name: Monitored host, category: bundles}
spec:
  form:
    fields:
      - {id: name, type: string, required: true}
  components:
    - id: dns
      item: record
      inputs: {host: "{{ .current.name | slug }}"}
    - id: uptime
      item: check
      inputs:
        target: "{{ .output.record_id }}"
        label: "{{ .current.name | upper }}"
      dependsOn: [dns]
"""


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        fake.route("POST", "/records", Reply(201, json={"id": "r-7"}))
        fake.route("POST", "/checks", Reply(201, json={}))
        yield fake


@pytest.fixture
async def app(database_url: str, tmp_path: Path, server: FakeServer) -> AsyncIterator[FastAPI]:
    files = {
        "catalog/record.yaml": RECORD.format(base=server.url),
        "catalog/check.yaml": CHECK.format(base=server.url),
        "bundles/monitored.yaml": BUNDLE,
    }
    repo = write_catalog(tmp_path / "repo", files)
    settings = make_settings(
        database_url, allowed_hosts=["127.0.0.1"], catalog={"source": str(repo)}
    )
    application = create_app(settings, background=False)
    async with application.router.lifespan_context(application):
        record = await sync(application.state.runtime, trigger="test")
        assert record.status == "ok", record.problems
        yield application


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    headers = bearer(await token_for(app, ADMIN_EMAIL))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        yield c


async def test_an_input_from_an_earlier_output_is_rendered_when_its_task_runs(
    app: FastAPI, api: httpx.AsyncClient, server: FakeServer
) -> None:
    body = {"item": "monitored-host", "team": "platform", "inputs": {"name": "Web 1"}}
    submitted = await api.post("/api/v1/requests", json=body)
    assert submitted.status_code == 201, submitted.text

    assert await drain(app.state.runtime) == [Outcome.COMPLETED, Outcome.COMPLETED]
    request = (await api.get(f"/api/v1/requests/{submitted.json()['id']}")).json()
    assert request["state"] == "completed"
    create, watch = server.calls
    assert create.json() == {"host": "web-1"}
    assert watch.json() == {"target": "r-7", "label": "WEB 1"}


async def test_a_component_input_breaking_its_item_form_is_refused_at_submission(
    api: httpx.AsyncClient,
) -> None:
    body = {
        "item": "monitored-host",
        "team": "platform",
        "inputs": {"name": "a much too long name"},
    }
    refused = await api.post("/api/v1/requests", json=body)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert [d["field"] for d in error["details"]] == ["components.uptime.label"]
    assert (await api.get("/api/v1/requests")).json()["items"] == []  # nothing stored


async def test_an_output_that_does_not_fit_fails_the_task_with_the_field_named(
    app: FastAPI, api: httpx.AsyncClient, server: FakeServer
) -> None:
    server.route("POST", "/records", Reply(201, json={"id": "not-a-record"}))
    body = {"item": "monitored-host", "team": "platform", "inputs": {"name": "web"}}
    submitted = await api.post("/api/v1/requests", json=body)
    assert await drain(app.state.runtime) == [Outcome.COMPLETED, Outcome.FAILED]
    request = (await api.get(f"/api/v1/requests/{submitted.json()['id']}")).json()
    assert request["state"] == "failed"
    failed = [t for t in request["tasks"] if t["state"] == "failed"]
    assert "component input 'target' is invalid" in failed[0]["error"]
    assert [c.path for c in server.calls] == ["/records"]  # the check was never created
