"""`LoomClient.requests` and `LoomClient.queue` against a live server serving a small
catalog (no worker runs: submitted requests wait on the queue)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from loom.client import ApiError, LoomClient
from loom.client.requests import RequestFilter
from loom.settings import Settings
from tests.catalog.conftest import CODEOWNERS, POSTGRES, write_catalog
from tests.conftest import make_settings

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The live server serves a one-item catalog (overrides tests.conftest's `settings`)."""
    files: dict[str, str | None] = {
        "catalog/databases/postgres.yaml": POSTGRES,
        "CODEOWNERS": CODEOWNERS,
    }
    catalog_dir = write_catalog(tmp_path / "catalog-repo", files)
    catalog = {"source": str(catalog_dir), "cache_dir": str(tmp_path / "cache")}
    return make_settings(database_url, catalog=catalog)


@pytest.fixture
def synced(admin: LoomClient) -> LoomClient:
    assert admin.catalog.refresh().status == "ok"
    return admin


def test_plan_stores_nothing(synced: LoomClient) -> None:
    plan = synced.requests.plan("postgres", {"name": "orders"}, team="platform")
    assert (plan.item, plan.version) == ("postgres", "1.0.0")
    assert [(t.action_id, t.action_type) for t in plan.tasks] == [("ticket", "jira-ticket")]
    assert plan.tasks[0].config["summary"] == "Create orders (small)"
    assert synced.requests.list().items == []


def test_submit_read_status_logs_abort(synced: LoomClient) -> None:
    request = synced.requests.submit("postgres", {"name": "orders"}, team="platform")
    assert (request.item, request.state, request.tasks_total) == ("postgres", "submitted", 1)
    assert request.url == f"/ui/requests/{request.id}"
    assert request.inputs == {"name": "orders", "size": "small"}

    assert synced.requests.get(request.id).id == request.id
    status = synced.requests.status(request.id)
    assert (status.state, status.progress, status.settled) == (
        "submitted",
        "0 of 1 completed",
        False,
    )
    assert [t.state for t in status.tasks] == ["queued"]
    assert isinstance(synced.requests.logs(request.id), list)

    listed = synced.requests.list(RequestFilter(item="postgres"))
    assert [r.id for r in listed.items] == [request.id]
    assert [r.id for r in synced.requests.iter(RequestFilter(mine=False))] == [request.id]
    assert synced.requests.list(RequestFilter(state="completed")).items == []

    stats = synced.queue.stats()
    assert (stats.queue, stats.depth) == ("tasks", 1)
    messages = synced.queue.messages().items
    assert len(messages) == 1
    assert [m.id for m in synced.queue.group(messages[0].group_id).items] == [messages[0].id]
    assert synced.queue.dlq().items == []

    aborted = synced.requests.abort(request.id)
    assert aborted.state == "aborted"
    assert [t.state for t in aborted.tasks] == ["skipped"]
    assert synced.requests.status(request.id).settled


def test_idempotency_key_submits_once(synced: LoomClient) -> None:
    first = synced.requests.submit("postgres", {"name": "orders"}, idempotency_key="k-1")
    # The server stores the first answer just after sending it: a replay that fast may
    # still be told the first one is running (409 IDEMPOTENCY_IN_PROGRESS).
    deadline = time.monotonic() + 5
    while True:
        try:
            again = synced.requests.submit("postgres", {"name": "orders"}, idempotency_key="k-1")
            break
        except ApiError as exc:
            if exc.code != "IDEMPOTENCY_IN_PROGRESS" or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert again.id == first.id
    assert len(synced.requests.list().items) == 1


def test_invalid_input_names_every_field(synced: LoomClient) -> None:
    with pytest.raises(ApiError) as caught:
        synced.requests.submit("postgres", {"name": "X", "size": "huge"}, team="platform")
    assert caught.value.status == 400 and caught.value.code == "VALIDATION_ERROR"
    assert {d.field for d in caught.value.details} == {"inputs.name", "inputs.size"}


def test_redrive_of_an_unknown_message_is_an_api_error(synced: LoomClient) -> None:
    with pytest.raises(ApiError) as caught:
        synced.queue.redrive("nope")
    assert caught.value.status in (404, 409, 422)
