"""On-call schedules over the API: who is on call (with an override), the shifts of a
period, the iCalendar feed, and bad input named by field."""

from __future__ import annotations

import httpx
import icalendar

from tests.conftest import ADMIN_EMAIL, Tenant

SCHEDULES = "/api/v1/notify/schedules"
ROTA = {
    "name": "db-oncall", "time_zone": "Europe/Paris",
    "layers": [{"rotation": "daily", "handoff": "09:00", "start": "2026-10-19",
                "users": ["operator-a@loom.test", "admin-a@loom.test"]}],
}  # fmt: skip


async def test_who_is_on_call_with_an_override_and_the_calendar(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant
) -> None:
    made = await client.post(SCHEDULES, json=ROTA, headers=admin_headers)
    assert made.status_code == 201, made.text
    assert made.json()["layers"][0]["users"] == ["operator-a@loom.test", "admin-a@loom.test"]
    now = await client.get(f"{SCHEDULES}/db-oncall/oncall",
                           params={"at": "2026-10-20T12:00:00Z"}, headers=admin_headers)  # fmt: skip
    assert now.status_code == 200, now.text
    assert now.json()["shift"]["user"] == "admin-a@loom.test"
    cover = {"user": ADMIN_EMAIL, "starts_at": "2026-10-20T11:00:00Z",
             "ends_at": "2026-10-20T13:00:00Z"}  # fmt: skip
    added = await client.post(f"{SCHEDULES}/db-oncall/overrides", json=cover,
                              headers=tenant.headers["operator-a"])  # fmt: skip
    assert added.status_code == 403  # an org schedule: org operators and up
    added = await client.post(f"{SCHEDULES}/db-oncall/overrides", json=cover,
                              headers=admin_headers)  # fmt: skip
    assert added.status_code == 201, added.text
    now = await client.get(f"{SCHEDULES}/db-oncall/oncall",
                           params={"at": "2026-10-20T12:00:00Z"}, headers=admin_headers)  # fmt: skip
    assert (now.json()["shift"]["user"], now.json()["shift"]["source"]) == (ADMIN_EMAIL,
                                                                           "override")  # fmt: skip
    shifts = await client.get(f"{SCHEDULES}/db-oncall/shifts", headers=admin_headers,
                              params={"start": "2026-10-20T00:00:00Z",
                                      "end": "2026-10-21T00:00:00Z"})  # fmt: skip
    assert [s["user"] for s in shifts.json()] == [
        "operator-a@loom.test", "admin-a@loom.test", ADMIN_EMAIL, "admin-a@loom.test",
    ]  # fmt: skip
    feed = await client.get(f"{SCHEDULES}/db-oncall/calendar.ics", headers=admin_headers)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(feed.content)
    events = [c for c in calendar.walk("VEVENT")]
    assert len(events) >= 90  # a shift a day for the next 92 days
    assert all("On call (db-oncall)" in str(e["SUMMARY"]) for e in events)


async def test_bad_schedules_are_refused_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant
) -> None:
    cases = [
        ({**ROTA, "time_zone": "Mars/Olympus"}, "time_zone"),
        ({**ROTA, "layers": [{**ROTA["layers"][0], "users": ["nobody@loom.test"]}]},
         "layers[0].users[0]"),
        ({**ROTA, "layers": [{**ROTA["layers"][0], "handoff": "25:00"}]}, "layers[0].handoff"),
        ({**ROTA, "layers": []}, "layers"),
    ]  # fmt: skip
    for body, field in cases:
        response = await client.post(SCHEDULES, json=body, headers=admin_headers)
        assert response.status_code in (400, 422), (field, response.text)
        fields = [d["field"] for d in response.json()["error"]["details"]]
        assert field in fields, (field, fields)
    made = await client.post(SCHEDULES, json=ROTA, headers=admin_headers)
    assert made.status_code == 201
    too_long = await client.get(f"{SCHEDULES}/db-oncall/shifts", headers=admin_headers,
                                params={"start": "2026-01-01T00:00:00Z",
                                        "end": "2026-12-01T00:00:00Z"})  # fmt: skip
    assert too_long.status_code == 422
    assert too_long.json()["error"]["details"][0]["field"] == "end"
