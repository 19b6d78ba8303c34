"""Requests through the API: submit (validated, pinned, tasks created, first queued),
plan, read, list, abort, retry with corrected input."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

from loom.audit.models import AuditEntry
from loom.platform.runtime import Runtime
from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.states import RequestState, TaskState
from loom.provisioning.transitions import lock_request, set_request_state, set_task_state
from loom.queue.factory import queue_for
from loom.secrets.models import StoredSecret
from tests.catalog.conftest import POSTGRES, write_catalog

SECRET_ITEM = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {id: vault-secret, name: Vault secret, category: security}
spec:
  form:
    fields:
      - {id: path, type: string, required: true}
      - {id: value, type: secret, required: true}
  fulfillment:
    actions:
      - id: store
        type: rest-api
        config: {url: "https://vault.internal.example/v1/{{ .current.path }}"}
      - id: ticket
        type: jira-ticket
        config: {project: SEC, summary: "Review {{ .current.path }}"}
"""


async def _submit(
    api: httpx.AsyncClient, item: str = "postgres", **inputs: object
) -> httpx.Response:
    body = {"item": item, "team": "platform", "inputs": inputs or {"name": "orders"}}
    return await api.post("/api/v1/requests", json=body)


async def _count(runtime: Runtime, model: type) -> int:
    async with runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_submit_stores_request_tasks_and_queues_the_first(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    response = await _submit(api)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "submitted" and body["item"] == "postgres"
    assert body["inputs"] == {"name": "orders", "size": "small"}
    assert body["progress"] == "0 of 1 completed" and body["url"] == f"/ui/requests/{body['id']}"
    [task] = body["tasks"]
    assert (task["action_id"], task["state"]) == ("ticket", "queued")
    [message] = (await queue_for(synced, "tasks").list()).items
    assert message.group_id == body["id"] and message.body == {
        "request_id": body["id"], "task_id": task["id"], "correlation_id": body["correlation_id"]
    }  # fmt: skip
    audit = await api.get("/api/v1/audit", params={"action": "request.submit"})
    assert audit.json()["items"][0]["target_id"] == body["id"]
    logs = (await api.get(f"/api/v1/requests/{body['id']}/logs")).json()
    assert logs[0]["message"].startswith("submitted by admin@loom.test")


async def test_bad_input_is_400_with_every_field_and_stores_nothing(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    response = await _submit(api, name="X", size="huge", extra=1)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert {d["field"] for d in error["details"]} == {"inputs.name", "inputs.size", "inputs.extra"}
    assert await _count(synced, Request) == 0
    assert (await queue_for(synced, "tasks").list()).items == []


async def test_unknown_item_and_team_are_named(synced: Runtime, api: httpx.AsyncClient) -> None:
    unknown = await api.post("/api/v1/requests", json={"item": "nope", "team": "platform"})
    assert unknown.status_code == 422 and unknown.json()["error"]["details"][0]["field"] == "item"
    team = await api.post("/api/v1/requests", json={"item": "postgres", "team": "ghosts"})
    assert team.status_code == 422 and team.json()["error"]["details"][0]["field"] == "team"


async def test_bundle_tasks_follow_dependency_order(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    response = await _submit(api, "web-service", name="shop")
    assert response.status_code == 201, response.text
    tasks = response.json()["tasks"]
    assert [(t["component_id"], t["action_id"], t["state"]) for t in tasks] == [
        ("ns", "create", "queued"),
        ("db", "ticket", "pending"),
    ]


async def test_plan_shows_tasks_and_stores_nothing(synced: Runtime, api: httpx.AsyncClient) -> None:
    body = {"item": "web-service", "team": "platform", "inputs": {"name": "shop"}}
    plan = (await api.post("/api/v1/requests/plan", json=body)).json()
    assert [t["item_id"] for t in plan["tasks"]] == ["namespace", "postgres"]
    assert plan["tasks"][1]["outputs"] == ["ticket_key"]
    # Templates are rendered as far as they can be before anything runs.
    assert plan["tasks"][0]["config"]["url"] == "https://k8s-api.internal.example/namespaces/shop"
    assert plan["tasks"][1]["config"]["summary"] == "Create shop (small)"
    assert await _count(synced, Request) == 0


async def test_plan_shows_outputs_known_after_earlier_tasks(
    synced: Runtime, api: httpx.AsyncClient, catalog_dir: Path
) -> None:
    chained = POSTGRES.replace(
        "        outputs: [ticket_key]\n",
        "        outputs: [ticket_key]\n"
        "      - id: announce\n        type: rest-api\n"
        '        config: {url: "https://chat.internal.example/{{ .output.ticket_key }}"}\n',
    )
    write_catalog(catalog_dir, {"catalog/databases/postgres.yaml": chained})
    await api.post("/api/v1/catalog/refresh")
    body = {"item": "postgres", "team": "platform", "inputs": {"name": "orders"}}
    plan = (await api.post("/api/v1/requests/plan", json=body)).json()
    assert "known after task 1" in plan["tasks"][1]["config"]["url"]


async def test_request_pins_the_definition_it_was_made_against(
    synced: Runtime, api: httpx.AsyncClient, catalog_dir: Path
) -> None:
    request_id = (await _submit(api)).json()["id"]
    write_catalog(catalog_dir, {"catalog/databases/postgres.yaml": POSTGRES.replace("DBA", "OPS")})
    await api.post("/api/v1/catalog/refresh")
    async with synced.sessions() as s:
        request = await s.get(Request, uuid.UUID(request_id))
        assert request is not None
        actions = request.definition["entry"]["spec"]["fulfillment"]["actions"]
    assert actions[0]["config"]["project"] == "DBA"


async def test_secret_values_are_kept_apart_and_masked(
    synced: Runtime, api: httpx.AsyncClient, catalog_dir: Path
) -> None:
    write_catalog(catalog_dir, {"catalog/security/vault.yaml": SECRET_ITEM})
    await api.post("/api/v1/catalog/refresh")
    response = await _submit(api, "vault-secret", path="apps/shop", value="hunter2")
    assert response.status_code == 201, response.text
    assert response.json()["inputs"] == {"path": "apps/shop", "value": "••••"}
    assert "hunter2" not in response.text
    async with synced.sessions() as s:
        request = await s.get(Request, uuid.UUID(response.json()["id"]))
        assert request is not None and "hunter2" not in str(request.inputs)
        stored = (await s.scalars(select(StoredSecret.ciphertext))).all()
    assert len(stored) == 1 and "hunter2" not in stored[0]
    audit = await api.get("/api/v1/audit", params={"action": "request.submit"})
    assert "hunter2" not in audit.text
    aborted = await api.post(f"/api/v1/requests/{response.json()['id']}/abort")
    assert aborted.status_code == 200
    assert await _count(synced, StoredSecret) == 0


async def test_abort_skips_remaining_tasks(synced: Runtime, api: httpx.AsyncClient) -> None:
    request_id = (await _submit(api, "web-service", name="shop")).json()["id"]
    aborted = await api.post(f"/api/v1/requests/{request_id}/abort")
    assert aborted.status_code == 200
    assert aborted.json()["state"] == "aborted"
    assert [t["state"] for t in aborted.json()["tasks"]] == ["skipped", "skipped"]
    again = await api.post(f"/api/v1/requests/{request_id}/abort")
    assert again.status_code == 409 and again.json()["error"]["code"] == "ILLEGAL_TRANSITION"


async def _fail_first_task(runtime: Runtime, request_id: str) -> None:
    """What a worker does when an action fails (the worker itself comes later)."""
    from loom.audit.service import Actor

    async with runtime.sessions() as s, s.begin():
        request = await lock_request(s, uuid.UUID(request_id))
        await s.refresh(request, ["tasks"])
        task = request.tasks[0]
        await set_request_state(s, request, RequestState.PROCESSING, Actor.system("worker"))
        await set_task_state(s, request, task, TaskState.PROCESSING)
        await set_task_state(s, request, task, TaskState.FAILED, error="HTTP 500 from JIRA")
        await set_request_state(
            s, request, RequestState.FAILED, Actor.system("worker"), error="HTTP 500 from JIRA"
        )


async def test_retry_requeues_the_failed_task_with_corrected_input(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    request_id = (await _submit(api)).json()["id"]
    early = await api.post(f"/api/v1/requests/{request_id}/retry")
    assert early.status_code == 409  # not failed: nothing to retry
    await _fail_first_task(synced, request_id)
    bad = await api.post(f"/api/v1/requests/{request_id}/retry", json={"inputs": {"name": "X"}})
    assert bad.status_code == 400
    retried = await api.post(
        f"/api/v1/requests/{request_id}/retry", json={"inputs": {"name": "orders_v2"}}
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "retrying"
    assert retried.json()["inputs"]["name"] == "orders_v2"
    assert retried.json()["tasks"][0]["state"] == "queued"
    messages = (await queue_for(synced, "tasks").list()).items
    assert len(messages) == 2  # the first queueing and the retry's
    async with synced.sessions() as s:
        diff = await s.scalar(
            select(AuditEntry.after).where(AuditEntry.action == "request.inputs.correct")
        )
    assert diff is not None and diff["diff"] == {"name": {"before": "orders", "after": "orders_v2"}}


async def test_lists_mine_and_filters(synced: Runtime, api: httpx.AsyncClient) -> None:
    first = (await _submit(api)).json()["id"]
    second = (await _submit(api, "web-service", name="shop")).json()["id"]
    await api.post(f"/api/v1/requests/{second}/abort")
    everything = (await api.get("/api/v1/requests")).json()["items"]
    assert [r["id"] for r in everything] == [second, first]
    aborted = (await api.get("/api/v1/requests", params={"state": "aborted"})).json()["items"]
    assert [r["id"] for r in aborted] == [second]
    by_item = (await api.get("/api/v1/requests", params={"item": "postgres"})).json()["items"]
    assert [r["id"] for r in by_item] == [first]
    status = (await api.get(f"/api/v1/requests/{first}/status")).json()
    assert status["state"] == "submitted" and status["tasks"][0]["state"] == "queued"


async def test_idempotency_key_submits_once(synced: Runtime, api: httpx.AsyncClient) -> None:
    body = {"item": "postgres", "team": "platform", "inputs": {"name": "orders"}}
    headers = {"Idempotency-Key": "req-1"}
    first = await api.post("/api/v1/requests", json=body, headers=headers)
    again = await api.post("/api/v1/requests", json=body, headers=headers)
    assert first.json()["id"] == again.json()["id"]
    assert await _count(synced, Request) == 1
    assert await _count(synced, FulfillmentTask) == 1


def test_masking_a_nested_secret_leaves_the_stored_inputs_alone() -> None:
    from datetime import UTC, datetime

    from loom.provisioning.schemas import RequestDetail

    request = Request(
        id=uuid.uuid4(), org_id=uuid.uuid4(), team_id=uuid.uuid4(), requester_id=uuid.uuid4(),
        kind="CatalogItem", entry_id="db", entry_name="DB", entry_version="1", entry_digest="d",
        definition={}, inputs={"db": {"name": "orders"}}, secret_fields=["db.password"],
        state="submitted", correlation_id="c", tasks_total=0, tasks_completed=0,
        created_at=datetime.now(UTC), tasks=[],
    )  # fmt: skip
    detail = RequestDetail.of(request)
    assert detail.inputs == {"db": {"name": "orders", "password": "••••"}}
    assert request.inputs == {"db": {"name": "orders"}}
