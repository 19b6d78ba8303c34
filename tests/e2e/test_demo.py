"""The README's demo in a real browser, against a server running like `make serve` (demo
data, demo integrations, the sample catalog, its own workers): the admin requests the
new-web-service bundle from its page and sees it wait for approval under the demo
banner; the demo approver approves it from her Approvals page; the admin's page then
shows the namespace's pull request in the demo GitHub, labelled as a demo integration."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from loom.demo import APPROVER
from loom.settings import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, make_settings
from tests.e2e.conftest import Console
from tests.e2e.test_catalog import shots

pytestmark = [pytest.mark.sqlite_only, pytest.mark.e2e]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog"
REQUEST_PAGE = re.compile(r".*/ui/requests/[0-9a-f-]{36}$")
APPROVER_PASSWORD = "approver-password-1"
WAIT_MS = 20_000


@pytest.fixture
def live_background() -> bool:
    return True  # the server's own workers carry the request out


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        demo_data=True,
        catalog={"source": str(EXAMPLES), "cache_dir": str(tmp_path / "cache")},
        workers={"poll_interval_seconds": 0.2},
    )


@pytest.fixture
def server(live_server: LiveServer, settings: Settings, tmp_path: Path) -> LiveServer:
    with httpx.Client(base_url=live_server.url, timeout=30) as api:
        login = api.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        refresh = api.post("/api/v1/catalog/refresh")
        assert refresh.json()["status"] == "ok", refresh.json()
    # The approver's password was printed once at start; set a known one, as the README
    # tells whoever lost it.
    subprocess.run(
        [sys.executable, "-m", "loom.cli.main", "admin", "set-password", APPROVER[0],
         "--password", APPROVER_PASSWORD],
        env={"LOOM_DATABASE_URL": settings.database_url, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return live_server


def _sign_in(page: Page, base: str, email: str, password: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}{path}")


def test_request_the_bundle_then_approve_it_as_the_demo_approver(
    server: LiveServer, page: Page, console: Console, tmp_path: Path
) -> None:
    base = server.url
    _sign_in(page, base, ADMIN_EMAIL, ADMIN_PASSWORD, "/ui/catalog/new-web-service")
    banner = page.get_by_test_id("demo-banner")
    expect(banner).to_contain_text("Demo integrations running")
    expect(banner).to_contain_text("JIRA, GitHub, Terraform")
    page.get_by_label("Service name").fill("shop-api")
    page.get_by_label("Owning team (slug)").fill("checkout")
    page.get_by_label("Database name").fill("shop")
    page.locator("select#team").select_option("platform")
    page.get_by_role("button", name="Submit request").click()
    expect(page).to_have_url(REQUEST_PAGE)
    request_id = page.url.rsplit("/", 1)[-1]

    approval = page.locator('#timeline li[data-task="1"]')
    expect(approval).to_have_attribute("data-state", "waiting", timeout=WAIT_MS)
    expect(page.locator("#logs")).to_contain_text("waiting for approval by team platform")
    expect(page.get_by_test_id("demo-banner")).to_be_visible()
    page.screenshot(path=shots(tmp_path) / "demo-waiting-for-approval.png", full_page=True)

    browser = page.context.browser
    assert browser is not None
    approver = browser.new_context().new_page()
    _sign_in(approver, base, APPROVER[0], APPROVER_PASSWORD, "/ui/approvals")
    approver.locator(f"#approve-{request_id}").click()
    expect(approver.locator(f'article[data-request="{request_id}"]')).to_have_count(0)
    approver.context.close()

    expect(approval).to_have_attribute("data-state", "completed", timeout=WAIT_MS)
    commit = page.locator('#timeline li[data-task="2"]')
    expect(commit).to_have_attribute("data-state", "completed", timeout=WAIT_MS)
    badge = commit.locator(".task-refs .badge.demo")
    expect(badge).to_have_text("demo integration")
    link = commit.locator(".task-refs a").first
    expect(link).to_have_attribute(
        "href", re.compile(r"^http://127\.0\.0\.1:\d+/acme/k8s-gitops/pull/1$")
    )
    page.screenshot(path=shots(tmp_path) / "demo-approved.png", full_page=True)

    link.click()
    expect(page.locator("body")).to_contain_text("Demo integration.")
    expect(page.locator("h1")).to_contain_text("New namespace shop-api (checkout)")
    assert console.errors == []
