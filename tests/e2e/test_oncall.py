"""In a real browser: the on-call page names who is on call now; on the channels page the
admin clicks "Send test" and the page says the test message is queued (the form posts
with its CSRF token, no script needed). No console errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from loom.db.types import utcnow
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer
from tests.e2e.conftest import Console
from tests.e2e.test_catalog import shots

pytestmark = [pytest.mark.sqlite_only, pytest.mark.e2e]


@pytest.fixture
async def rota(live_server: LiveServer) -> LiveServer:
    """A schedule with the admin on call, and a channel, through the API."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as api:
        login = await api.post("/api/v1/auth/login",
                               json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})  # fmt: skip
        assert login.status_code == 200, login.text
        start = (utcnow() - timedelta(days=2)).date().isoformat()
        bodies = [
            ("/api/v1/notify/schedules", {"name": "primary", "time_zone": "UTC", "layers": [
                {"rotation": "daily", "start": start, "users": [ADMIN_EMAIL]}]}),
            ("/api/v1/notify/channels", {"name": "ops-hook", "kind": "webhook",
                                         "config": {"url": "https://hooks.example.com/x"}}),
        ]  # fmt: skip
        for path, body in bodies:
            response = await api.post(path, json=body)
            assert response.status_code == 201, response.text
    return live_server


def test_the_admin_sees_who_is_on_call_and_sends_a_test(
    rota: LiveServer, page: Page, console: Console, tmp_path: Path
) -> None:
    base = rota.url
    page.goto(f"{base}/ui/oncall")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/ui/oncall")
    schedule = page.locator('article[data-schedule="primary"]')
    expect(schedule.locator(".on-call-user")).to_have_text(ADMIN_EMAIL)
    page.screenshot(path=shots(tmp_path) / "oncall.png", full_page=True)
    page.get_by_role("link", name="Channels").click()
    expect(page).to_have_url(f"{base}/ui/oncall/channels")
    page.locator('tr[data-channel="ops-hook"]').get_by_role("button", name="Send test").click()
    expect(page.locator("#test-queued")).to_contain_text("ops-hook")
    page.screenshot(path=shots(tmp_path) / "oncall-channels.png", full_page=True)
    assert console.errors == []
