"""Callbacks: a callback task hands an outside system a single-use signed URL (through
its notify call) and waits; a POST to the URL completes or fails it; an expired, used,
superseded or forged token is refused and changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select

from loom.audit.models import AuditEntry
from loom.catalog.documents import CatalogItem
from loom.catalog.references import SYSTEM_KEYS
from loom.catalog.rules import item_findings
from loom.db.types import utcnow
from loom.demo.fakes import FakeServer
from loom.provisioning import callbacks
from loom.workers.runner import Outcome
from tests.provisioning.waits_support import PUBLIC_URL, Api, drain

_REFUSED = {401: "UNAUTHENTICATED", 410: "GONE"}


async def _issued(loom_api: Api, notify_server: FakeServer) -> tuple[str, str]:
    """A callback request waiting, and the path of the URL its notify call carried."""
    request_id = await loom_api.submit("called-back")
    assert await drain(loom_api.runtime) == [Outcome.WAITING]
    url = notify_server.calls[-1].json()["callback"]
    assert url.startswith(PUBLIC_URL + "/api/v1/callbacks/")
    return request_id, url.removeprefix(PUBLIC_URL)


async def _post(loom_api: Api, path: str, body: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=loom_api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://outside") as client:
        return await client.post(path, json=body)  # no credentials: the token is one


async def _audit_count(loom_api: Api) -> int:
    async with loom_api.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def test_the_notify_call_hands_over_the_url_and_the_task_waits(
    loom_api: Api, notify_server: FakeServer
) -> None:
    request_id, _path = await _issued(loom_api, notify_server)
    [call] = notify_server.calls
    assert call.json()["name"] == "shop"
    waiting = await loom_api.detail(request_id)
    assert waiting["state"] == "processing" and waiting["waiting_for"] == "waiting for the vendor"
    assert waiting["tasks"][0]["external_refs"] == {"notified": notify_server.url + "/notify"}
    assert "callbackUrl" in SYSTEM_KEYS


async def test_a_success_completes_the_task_with_its_outputs(
    loom_api: Api, notify_server: FakeServer
) -> None:
    request_id, path = await _issued(loom_api, notify_server)
    response = await _post(loom_api, path, {"status": "success", "outputs": {"vm_id": "vm-7"}})
    assert response.status_code == 200, response.text
    assert await drain(loom_api.runtime) == [Outcome.COMPLETED]
    done = await loom_api.detail(request_id)
    assert done["state"] == "completed"
    assert done["outputs"] == {"vm_id": "vm-7", "step": "done vm-7"}  # the next task read it
    assert "callback received: success" in await loom_api.logs(request_id)

    # Used once: the same URL is gone, and nothing changes.
    before = await _audit_count(loom_api)
    again = await _post(loom_api, path, {"status": "failure", "error": "oops"})
    assert again.status_code == 410 and again.json()["error"]["code"] == "GONE"
    assert "already used" in again.json()["error"]["message"]
    assert (await loom_api.detail(request_id))["state"] == "completed"
    assert await _audit_count(loom_api) == before


async def test_a_failure_fails_the_request_and_a_retry_refuses_the_old_url(
    loom_api: Api, notify_server: FakeServer
) -> None:
    request_id, path = await _issued(loom_api, notify_server)
    response = await _post(loom_api, path, {"status": "failure", "error": "no capacity"})
    assert response.status_code == 200, response.text
    failed = await loom_api.detail(request_id)
    assert failed["state"] == "failed"
    assert failed["error"] == "the callback reported failure: no capacity"

    client = await loom_api.as_("rita@loom.test")
    assert (await client.post(f"/api/v1/requests/{request_id}/retry")).status_code == 200
    assert await drain(loom_api.runtime) == [Outcome.WAITING]
    new_path = notify_server.calls[-1].json()["callback"].removeprefix(PUBLIC_URL)
    assert new_path != path
    old = await _post(loom_api, path, {"status": "success", "outputs": {"vm_id": "vm-1"}})
    assert old.status_code == 410
    assert old.json()["error"]["message"] == (
        "this callback URL belongs to an earlier attempt of the task"
    )
    new = await _post(loom_api, new_path, {"status": "success", "outputs": {"vm_id": "vm-2"}})
    assert new.status_code == 200, new.text
    assert (await loom_api.detail(request_id))["tasks"][0]["outputs"] == {"vm_id": "vm-2"}


async def test_outputs_must_be_exactly_those_declared(
    loom_api: Api, notify_server: FakeServer
) -> None:
    request_id, path = await _issued(loom_api, notify_server)
    extra = await _post(
        loom_api, path, {"status": "success", "outputs": {"vm_id": "v", "password": "x"}}
    )
    assert extra.status_code == 422
    assert [d["field"] for d in extra.json()["error"]["details"]] == ["outputs.password"]
    missing = await _post(loom_api, path, {"status": "success", "outputs": {}})
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "outputs.vm_id"
    bad = await _post(loom_api, path, {"status": "done"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "status"
    # The refused reports left the task waiting and the URL usable.
    assert (await loom_api.detail(request_id))["tasks"][0]["state"] == "waiting"
    ok = await _post(loom_api, path, {"status": "success", "outputs": {"vm_id": "v"}})
    assert ok.status_code == 200


async def test_a_forged_token_is_refused(loom_api: Api, notify_server: FakeServer) -> None:
    request_id, path = await _issued(loom_api, notify_server)
    token = path.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    task_id = uuid.UUID((await loom_api.detail(request_id))["tasks"][0]["id"])
    before = await _audit_count(loom_api)
    for attempt in (forged, "not-a-token", token + "x"):
        response = await _post(
            loom_api, f"/api/v1/callbacks/{attempt}", {"status": "success", "outputs": {}}
        )
        assert response.status_code == 401, attempt
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    # Signed with another key: as forged.
    another_key = SecretStr("another-key-" + "x" * 30)
    other = loom_api.runtime.settings.model_copy(update={"secret_key": another_key})
    foreign = callbacks.callback_url(other, task_id, 1).removeprefix(PUBLIC_URL)
    response = await _post(loom_api, foreign, {"status": "success", "outputs": {"vm_id": "v"}})
    assert response.status_code == 401
    assert (await loom_api.detail(request_id))["tasks"][0]["state"] == "waiting"
    assert await _audit_count(loom_api) == before


async def test_an_expired_token_is_gone(loom_api: Api, notify_server: FakeServer) -> None:
    request_id, _path = await _issued(loom_api, notify_server)
    task_id = uuid.UUID((await loom_api.detail(request_id))["tasks"][0]["id"])
    settings = loom_api.runtime.settings
    expired = callbacks.callback_url(settings, task_id, 1, now=utcnow() - timedelta(hours=2))
    response = await _post(
        loom_api, expired.removeprefix(PUBLIC_URL), {"status": "success", "outputs": {}}
    )
    assert response.status_code == 410
    assert response.json()["error"]["message"] == "this callback URL has expired"
    assert (await loom_api.detail(request_id))["tasks"][0]["state"] == "waiting"


def test_callback_urls_only_exist_in_callback_actions() -> None:
    item = CatalogItem.model_validate({
        "apiVersion": "loom/v1", "kind": "CatalogItem",
        "metadata": {"id": "x", "name": "x", "category": "c"},
        "spec": {"fulfillment": {"actions": [{
            "id": "call", "type": "rest-api",
            "config": {"url": "https://x.example/{{ .system.callbackUrl }}"},
        }]}},
    })  # fmt: skip
    assert list(item_findings(item, {})) == [
        (
            ("spec", "fulfillment", "actions", 0, "config", "url"),
            ".system.callbackUrl: only a callback action has one",
        )
    ]
