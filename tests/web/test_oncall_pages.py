"""The on-call pages of the portal: who is on call now (and next, and the week's shifts),
escalation policies, rules, channels with "Send test" for those who manage them, the
maintenance windows and snoozes with their forms, and the notification log filtered by
status. Everything scoped as the API scopes it (a team's objects for its members and the
organisation's admins); viewers see everything they may see but no button."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from loom.db.types import utcnow
from loom.notify.delivery import NOTIFY_QUEUE
from loom.notify.models import Notification
from loom.queue.factory import queue_for
from tests.conftest import ADMIN_EMAIL, Tenant
from tests.web.conftest import csrf_of
from tests.web.support import SignedIn, give_passwords, signed_in_as
from tests.web.test_incident_pages import rows_of, section

__all__ = ["signed_in_as"]

VIEWER_A, OPERATOR_A, ADMIN_A = "viewer-a@loom.test", "operator-a@loom.test", "admin-a@loom.test"


async def _post(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(f"/api/v1{path}", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
async def setup(app: FastAPI, tenant: Tenant, admin_headers: dict[str, str]) -> dict[str, Any]:
    """Channels of the organisation and of each team, an organisation's schedule and a
    team B one, a policy, a rule, a window open now and one next week."""
    await give_passwords(app, tenant)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t",
                                 headers=admin_headers) as api:  # fmt: skip
        ids = {}
        for name, team in (("org-hook", None), ("pager", None), ("a-hook", "team-a"),
                           ("b-hook", "team-b")):  # fmt: skip
            made = await _post(api, "/notify/channels", {
                "name": name, "kind": "webhook", "team": team,
                "config": {"url": "https://hooks.example.com/x"}})  # fmt: skip
            ids[name] = made["id"]
        start = (utcnow() - timedelta(days=3)).date().isoformat()
        await _post(api, "/notify/schedules", {
            "name": "primary", "time_zone": "UTC",
            "layers": [{"rotation": "daily", "handoff": "09:00", "start": start,
                        "users": [ADMIN_A, OPERATOR_A]}]})  # fmt: skip
        await _post(api, "/notify/schedules", {
            "name": "b-nights", "team": "team-b", "time_zone": "Europe/Paris",
            "layers": [{"rotation": "weekly", "start": start, "users": ["admin-b@loom.test"]}]})  # fmt: skip
        await _post(api, "/notify/policies", {"name": "escalate", "repeat": 1, "levels": [
            {"delay_minutes": 0, "channels": ["org-hook"]},
            {"delay_minutes": 15, "channels": ["org-hook", "pager"]}]})  # fmt: skip
        await _post(api, "/notify/rules", {
            "name": "critical-pages", "position": 5, "events": ["incident.opened"],
            "severities": ["critical"], "environments": ["production"],
            "channels": ["org-hook"], "policy": "escalate", "stop": True})  # fmt: skip
        now = utcnow()
        await _post(api, "/notify/maintenance", {
            "name": "patching", "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat()})  # fmt: skip
        await _post(api, "/notify/maintenance", {
            "name": "next-week", "services": ["orders"],
            "starts_at": (now + timedelta(days=7)).isoformat(),
            "ends_at": (now + timedelta(days=8)).isoformat()})  # fmt: skip
        await _post(api, "/services", {"slug": "orders", "name": "Orders", "team": "team-a"})
        on_call = await api.get("/api/v1/notify/schedules/primary/oncall")
        return {"channels": ids, "on_call": on_call.json()["shift"]["user"]}


def _buttons(markup: str, action: str) -> int:
    return len(re.findall(rf'data-action="{action}"', markup))


async def test_the_oncall_page_says_who_is_on_call_now_and_next(
    setup: dict[str, Any], signed_in_as: SignedIn
) -> None:
    client = await signed_in_as(VIEWER_A)
    page = await client.get("/ui/oncall")
    assert page.status_code == 200
    assert "coming soon" not in page.text
    primary = section(page.text, "schedules")
    assert f'On call now: <strong class="on-call-user">{setup["on_call"]}</strong>' in primary
    other = OPERATOR_A if setup["on_call"] == ADMIN_A else ADMIN_A
    assert f"Next: <strong>{other}</strong>" in primary
    # A daily rotation of two over the next 7 days: 7 or 8 shifts, alternating.
    users = rows_of(primary, "data-user")
    assert 7 <= len(users) <= 8 and users[:2] == [setup["on_call"], other]
    assert "b-nights" not in page.text  # team B's schedule, for team B and the admins
    policies = section(page.text, "policies")
    assert rows_of(policies, "data-policy") == ["escalate"]
    assert rows_of(policies, "data-level") == ["1", "2"]
    assert "after 15 min" in policies and "org-hook, pager" in policies


async def test_an_organisation_admin_sees_every_teams_schedule(
    setup: dict[str, Any], signed_in_as: SignedIn
) -> None:
    client = await signed_in_as(ADMIN_EMAIL)
    page = await client.get("/ui/oncall")
    assert rows_of(page.text, "data-schedule") == ["b-nights", "primary"]
    assert "admin-b@loom.test" in page.text


async def test_the_rules_page_lists_events_conditions_channels_policy_and_stop(
    setup: dict[str, Any], signed_in_as: SignedIn
) -> None:
    client = await signed_in_as(VIEWER_A)
    page = await client.get("/ui/oncall/rules")
    row = section(page.text, "rules")
    assert rows_of(row, "data-rule") == ["critical-pages"]
    for text in ("incident.opened", "severities:</small> critical",
                 "environments:</small> production", "org-hook", "escalate", "stop"):  # fmt: skip
        assert text in row, text


async def test_channels_are_scoped_and_only_their_managers_get_send_test(
    setup: dict[str, Any], signed_in_as: SignedIn
) -> None:
    viewer = await (await signed_in_as(VIEWER_A)).get("/ui/oncall/channels")
    assert rows_of(viewer.text, "data-channel") == ["a-hook", "org-hook", "pager"]
    assert _buttons(viewer.text, "test") == 0
    team_admin = await (await signed_in_as(ADMIN_A)).get("/ui/oncall/channels")
    table = section(team_admin.text, "channels")
    assert _buttons(table, "test") == 1
    assert f"{setup['channels']['a-hook']}/test" in table
    admin = await (await signed_in_as(ADMIN_EMAIL)).get("/ui/oncall/channels")
    assert rows_of(admin.text, "data-channel") == ["a-hook", "b-hook", "org-hook", "pager"]
    assert _buttons(admin.text, "test") == 4


async def test_send_test_queues_a_message_and_says_so(
    app: FastAPI, setup: dict[str, Any], signed_in_as: SignedIn
) -> None:
    client = await signed_in_as(ADMIN_A)
    channel = setup["channels"]["a-hook"]
    queue = queue_for(app.state.runtime, NOTIFY_QUEUE)
    before = (await queue.stats()).depth
    token = csrf_of(await client.get("/ui/oncall/channels"))
    response = await client.post(f"/ui/oncall/channels/{channel}/test",
                                 data={"csrf_token": token})  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == f"/ui/oncall/channels?tested={channel}"
    assert (await queue.stats()).depth == before + 1
    page = await client.get(response.headers["location"])
    assert "a-hook" in section(page.text, "test-queued")


async def test_send_test_is_refused_without_the_role_or_the_csrf_token(
    app: FastAPI, setup: dict[str, Any], signed_in_as: SignedIn
) -> None:
    queue = queue_for(app.state.runtime, NOTIFY_QUEUE)
    before = (await queue.stats()).depth
    org_hook = setup["channels"]["org-hook"]
    team_admin = await signed_in_as(ADMIN_A)  # manages team A's channels, not the org's
    token = csrf_of(await team_admin.get("/ui/oncall/channels"))
    refused = await team_admin.post(f"/ui/oncall/channels/{org_hook}/test",
                                    data={"csrf_token": token})  # fmt: skip
    assert refused.status_code == 403 and "requires the admin role" in refused.text
    b_hook = setup["channels"]["b-hook"]  # another team's: not even there
    hidden = await team_admin.post(f"/ui/oncall/channels/{b_hook}/test",
                                   data={"csrf_token": token})  # fmt: skip
    assert hidden.status_code == 404
    forged = await team_admin.post(f"/ui/oncall/channels/{setup['channels']['a-hook']}/test")
    assert forged.status_code == 403
    assert (await queue.stats()).depth == before


async def test_maintenance_windows_say_whether_they_are_open_now(
    setup: dict[str, Any], signed_in_as: SignedIn
) -> None:
    viewer = await signed_in_as(VIEWER_A)
    page = await viewer.get("/ui/oncall/maintenance")
    table = section(page.text, "windows")
    assert re.findall(r'data-window="([^"]+)" data-open="(\w+)"', table) == [
        ("next-week", "no"), ("patching", "yes")]  # fmt: skip
    assert 'id="window-form"' not in page.text and 'id="snooze-form"' not in page.text
    assert _buttons(page.text, "delete") == 0


async def test_cron_windows_show_their_expression_length_zone_and_whether_open(
    app: FastAPI, setup: dict[str, Any], admin_headers: dict[str, str], signed_in_as: SignedIn
) -> None:
    hour = utcnow().hour
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t",
                                 headers=admin_headers) as api:  # fmt: skip
        await _post(api, "/notify/maintenance", {
            "name": "saturdays", "cron": "0 2 * * 6", "duration_minutes": 120,
            "time_zone": "Europe/Paris"})  # fmt: skip
        await _post(api, "/notify/maintenance", {
            "name": "this-hour", "cron": f"0 {hour} * * *", "duration_minutes": 90})  # fmt: skip
    viewer = await signed_in_as(VIEWER_A)
    table = section((await viewer.get("/ui/oncall/maintenance")).text, "windows")
    rows = dict(re.findall(r'data-window="([^"]+)" data-open="(\w+)"', table))
    assert rows["this-hour"] == "yes"
    this_hour = table.split('data-window="this-hour"')[1].split("</tr>")[0]
    assert f"cron 0 {hour} * * *, 1 h 30 min, UTC" in this_hour
    saturdays = table.split('data-window="saturdays"')[1].split("</tr>")[0]
    assert "cron 0 2 * * 6, 2 h, Europe/Paris" in saturdays


async def test_an_admin_adds_a_window_and_deletes_it(
    setup: dict[str, Any], signed_in_as: SignedIn
) -> None:
    client = await signed_in_as(ADMIN_EMAIL)
    token = csrf_of(await client.get("/ui/oncall/maintenance"))
    start = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    end = (utcnow() + timedelta(days=1, hours=2)).strftime("%Y-%m-%dT%H:%M")
    form = {"csrf_token": token, "name": "db-upgrade", "services": "orders, ",
            "starts_at": start, "ends_at": end}  # fmt: skip
    response = await client.post("/ui/oncall/maintenance", data=form)
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "Maintenance window added." in page.text
    row = section(page.text, "windows").split('data-window="db-upgrade"')[1].split("</tr>")[0]
    assert "orders" in row and f"{start.replace('T', ' ')}:00 UTC" in row
    window_id = re.search(r"/maintenance/([0-9a-f-]{36})/delete", row)
    assert window_id is not None
    deleted = await client.post(f"/ui/oncall/maintenance/{window_id.group(1)}/delete",
                                data={"csrf_token": token})  # fmt: skip
    assert deleted.status_code == 303
    assert 'data-window="db-upgrade"' not in (await client.get("/ui/oncall/maintenance")).text


async def test_a_window_ending_before_it_starts_comes_back_with_the_field(
    setup: dict[str, Any], signed_in_as: SignedIn
) -> None:
    client = await signed_in_as(ADMIN_EMAIL)
    token = csrf_of(await client.get("/ui/oncall/maintenance"))
    form = {"csrf_token": token, "name": "backwards", "starts_at": "2030-01-02T10:00",
            "ends_at": "2030-01-02T09:00"}  # fmt: skip
    response = await client.post("/ui/oncall/maintenance", data=form)
    assert response.status_code == 422
    assert "ends_at: must be after starts_at" in section(response.text, "form-error")
    assert 'value="backwards"' in response.text  # what was typed stays
    garbled = await client.post("/ui/oncall/maintenance", data={**form, "starts_at": "soon"})
    assert garbled.status_code == 422 and "starts_at" in section(garbled.text, "form-error")


async def test_an_operator_snoozes_a_service(setup: dict[str, Any], signed_in_as: SignedIn) -> None:
    client = await signed_in_as(OPERATOR_A)
    page = await client.get("/ui/oncall/maintenance")
    assert 'id="snooze-form"' in page.text and 'id="window-form"' not in page.text
    token = csrf_of(page)
    response = await client.post("/ui/oncall/snoozes",
                                 data={"csrf_token": token, "service": "orders", "minutes": "30"})  # fmt: skip
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    snoozes = re.findall(r'data-window="(snooze-orders-[0-9a-f]+)" data-open="(\w+)"', page.text)
    assert len(snoozes) == 1 and snoozes[0][1] == "yes"
    unknown = await client.post("/ui/oncall/snoozes",
                                data={"csrf_token": token, "service": "nope", "minutes": "30"})  # fmt: skip
    assert unknown.status_code == 422 and "service: no service" in unknown.text


async def test_the_log_is_filtered_by_status(
    app: FastAPI, setup: dict[str, Any], tenant: Tenant, signed_in_as: SignedIn
) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        for status, error in (("sent", ""), ("dead", "401 <invalid token>"), ("muted", "window")):
            s.add(Notification(org_id=tenant.org_id, delivery_id=uuid.uuid4(),
                               channel_name="org-hook", channel_kind="webhook", event="test",
                               target="hooks.example.com", status=status, error=error))  # fmt: skip
    client = await signed_in_as(VIEWER_A)
    every = await client.get("/ui/oncall/log")
    assert sorted(rows_of(section(every.text, "notification-log"), "data-status")) == [
        "dead", "muted", "sent"]  # fmt: skip
    dead = await client.get("/ui/oncall/log?status=dead")
    log = section(dead.text, "notification-log")
    assert rows_of(log, "data-status") == ["dead"]
    assert "401 &lt;invalid token&gt;" in log
    assert (await client.get("/ui/oncall/log?status=lost")).status_code == 422


@pytest.mark.parametrize(
    "path", ["/ui/oncall", "/ui/oncall/rules", "/ui/oncall/channels", "/ui/oncall/maintenance",
             "/ui/oncall/log"],
)  # fmt: skip
async def test_anonymous_visitors_go_to_the_login_page(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/login")
