"""In a real browser, against a server running its workers and a local API standing in
for a DNS service: preview an item and submit it from its page, land on the request's
page and watch its timeline reach `completed` without reloading; a request that failed
is retried (and then completes), another is aborted; the queue page shows the figures."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from loom.demo.fakes import FakeServer, Reply
from loom.settings import Settings
from tests.catalog.conftest import write_catalog
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, make_settings
from tests.e2e.conftest import Console
from tests.e2e.test_catalog import shots

pytestmark = [pytest.mark.sqlite_only, pytest.mark.e2e]

SECRET = "t0p-s3cret-token"
REQUEST_PAGE = re.compile(r".*/ui/requests/[0-9a-f-]{36}$")
#: Long enough for a worker pass and an htmx poll (every 2 s) or two.
WAIT_MS = 20_000

ITEM = """\
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
          url: "BASE/records"
          headers: {X-Api-Token: "${secret:token}"}
          json: {name: "{{ .current.name }}"}
          expectStatus: [201]
          outputMap: {record_id: response.body.id}
        outputs: [record_id]
      - id: verify
        type: rest-api
        config:
          method: GET
          url: "BASE/records/{{ .output.record_id }}"
          outputMap: {fqdn: response.body.fqdn}
        outputs: [fqdn]
"""


@pytest.fixture
def dns() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        fake.route("GET", "/records/r-42", Reply(json={"fqdn": "shop.example.com"}))
        yield fake


@pytest.fixture
def live_background() -> bool:
    return True  # the server's own workers carry the requests out


@pytest.fixture
def settings(database_url: str, tmp_path: Path, dns: FakeServer) -> Settings:
    repo = write_catalog(tmp_path / "repo", {"catalog/dns.yaml": ITEM.replace("BASE", dns.url)})
    return make_settings(
        database_url,
        allowed_hosts=["127.0.0.1"],
        catalog={"source": str(repo), "cache_dir": str(tmp_path / "cache")},
        workers={"poll_interval_seconds": 0.2},
    )


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    with httpx.Client(base_url=live_server.url, timeout=30) as api:
        login = api.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        refresh = api.post("/api/v1/catalog/refresh")
        assert refresh.json()["status"] == "ok", refresh.json()
    return live_server


def _sign_in(page: Page, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}{path}")


def _submit(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/ui/catalog/dns-record")
    page.get_by_label("Record name").fill(name)
    page.get_by_label("API token").fill(SECRET)
    page.get_by_role("button", name="Submit request").click()
    expect(page).to_have_url(REQUEST_PAGE)


def test_submit_from_the_item_page_and_watch_it_complete(
    server: LiveServer, dns: FakeServer, page: Page, console: Console, tmp_path: Path
) -> None:
    # The DNS service holds its answer until the test has seen the task running.
    release = threading.Event()

    def create(_call: object) -> Reply:
        release.wait(30)
        return Reply(201, json={"id": "r-42"})

    dns.route("POST", "/records", create)
    base = server.url
    _sign_in(page, base, "/ui/catalog/dns-record")

    page.get_by_label("Record name").fill("shop")
    page.get_by_label("API token").fill(SECRET)
    with page.expect_response("**/ui/catalog/dns-record/preview"):
        page.get_by_role("button", name="Preview").click()
    plan = page.locator("#plan-panel")
    expect(plan.locator("li[data-task]")).to_have_count(2)
    expect(plan.locator('li[data-task="1"]')).to_contain_text('"name": "shop"')
    expect(plan.locator('li[data-task="2"]')).to_contain_text("known after task 1")
    expect(plan.locator('tr[data-path="token"] td')).to_have_text("••••")
    # Only the panel was swapped: the typed secret is still in the form.
    expect(page.get_by_label("API token")).to_have_value(SECRET)
    page.screenshot(path=shots(tmp_path) / "preview.png", full_page=True)

    page.get_by_role("button", name="Submit request").click()
    expect(page).to_have_url(REQUEST_PAGE)
    state = page.locator("#request-state")
    first = page.locator('#timeline li[data-task="1"]')
    expect(first).to_have_attribute("data-state", "processing", timeout=WAIT_MS)
    expect(state).to_have_text("processing")
    expect(page.locator("#request-live")).to_have_attribute("hx-trigger", "every 2s")

    release.set()
    expect(state).to_have_text("completed", timeout=WAIT_MS)
    expect(page.locator("#request-progress")).to_have_text("2 of 2")
    expect(page.locator('#timeline li[data-task="2"]')).to_have_attribute("data-state", "completed")
    expect(page.locator("#timeline")).to_contain_text("shop.example.com")
    expect(page.locator("#request-live")).not_to_have_attribute("hx-trigger", "every 2s")
    expect(page.locator("#logs")).to_contain_text("request processing → completed")
    expect(page.locator("#request-actions button")).to_have_count(0)
    page.screenshot(path=shots(tmp_path) / "request-completed.png", full_page=True)
    assert SECRET not in page.content()
    assert dns.calls[0].headers["x-api-token"] == SECRET  # the secret reached the action only
    assert console.errors == []

    page.get_by_role("navigation", name="Domains").get_by_role("link", name="Requests").click()
    row = page.locator("tr[data-request]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("completed")
    expect(row).to_contain_text("2 of 2")


def test_a_failed_request_is_retried_and_another_aborted(
    server: LiveServer, dns: FakeServer, page: Page, console: Console, tmp_path: Path
) -> None:
    dns.route("POST", "/records", Reply(500, json={"error": "zone locked"}))
    base = server.url
    _sign_in(page, base, "/ui/catalog/dns-record")
    _submit(page, base, "shop")
    expect(page.locator("#request-state")).to_have_text("failed", timeout=WAIT_MS)
    expect(page.locator("#request-error")).to_contain_text("answered 500")
    expect(page.locator('#timeline li[data-task="1"]')).to_have_attribute("data-state", "failed")
    # The actions came with the new state, without a reload.
    expect(page.get_by_role("button", name="Retry", exact=True)).to_be_visible()
    page.screenshot(path=shots(tmp_path) / "request-failed.png", full_page=True)

    dns.route("POST", "/records", Reply(201, json={"id": "r-42"}))  # the zone is unlocked
    page.get_by_role("button", name="Retry", exact=True).click()
    expect(page).to_have_url(REQUEST_PAGE)
    expect(page.locator("#request-state")).to_have_text("completed", timeout=WAIT_MS)
    expect(page.locator('#timeline li[data-task="1"]')).to_contain_text("2 attempts")

    dns.route("POST", "/records", Reply(500, json={"error": "zone locked"}))
    _submit(page, base, "blog")
    expect(page.locator("#request-state")).to_have_text("failed", timeout=WAIT_MS)
    page.locator("#abort summary").click()
    page.get_by_role("button", name="Abort the request").click()
    expect(page.locator("#request-state")).to_have_text("aborted")
    tasks = page.locator("#timeline li[data-task]")
    expect(tasks.nth(0)).to_have_attribute("data-state", "skipped")
    expect(tasks.nth(1)).to_have_attribute("data-state", "skipped")
    expect(page.locator("#request-actions button")).to_have_count(0)

    page.goto(f"{base}/ui/admin/queue")
    expect(page.locator('#queue-stats [data-stat="depth"] strong')).to_have_text("0")
    expect(page.locator("#no-dead-letters")).to_be_visible()
    assert console.errors == []
