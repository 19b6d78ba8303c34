"""A schedule's overrides over the API: listed by start (those still running or ahead,
or all), removed by those who may add one (audited), hidden from other teams and
organisations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from loom.audit.models import AuditEntry
from tests.conftest import ADMIN_EMAIL, Tenant, bearer, token_for
from tests.services.support import other_org_admin

SCHEDULES = "/api/v1/notify/schedules"
OVERRIDES = SCHEDULES + "/db-oncall/overrides"


def _rota(**changes: Any) -> dict[str, Any]:
    """A daily rotation of operator-a since last week (someone is always on call)."""
    start = (datetime.now(UTC).date() - timedelta(days=7)).isoformat()
    return {"name": "db-oncall", "time_zone": "UTC",
            "layers": [{"rotation": "daily", "handoff": "00:00", "start": start,
                        "users": ["operator-a@loom.test"]}], **changes}  # fmt: skip


def _cover(user: str, start: timedelta, end: timedelta) -> dict[str, str]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {"user": user, "starts_at": (now + start).isoformat(),
            "ends_at": (now + end).isoformat()}  # fmt: skip


async def _add(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, str]) -> str:
    made = await client.post(OVERRIDES, json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["user"] == body["user"]
    return str(made.json()["id"])


async def test_overrides_are_listed_by_start_and_ended_ones_only_on_request(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant
) -> None:
    made = await client.post(SCHEDULES, json=_rota(team="team-a"), headers=admin_headers)
    assert made.status_code == 201, made.text
    operator = tenant.headers["operator-a"]
    # Added out of order: the list follows the start, not the creation.
    later = await _add(client, operator, _cover(ADMIN_EMAIL, timedelta(days=3), timedelta(days=4)))
    past = await _add(client, operator, _cover(ADMIN_EMAIL, -timedelta(days=2), -timedelta(days=1)))
    now = await _add(client, operator, _cover("admin-a@loom.test", -timedelta(hours=1),
                                              timedelta(hours=1)))  # fmt: skip
    soon = await _add(client, operator, _cover(ADMIN_EMAIL, timedelta(days=1), timedelta(days=2)))

    viewer = tenant.headers["viewer-a"]
    listed = await client.get(OVERRIDES, headers=viewer)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [o["id"] for o in items] == [now, soon, later]
    assert (items[0]["user"], items[0]["created_by"]) == ("admin-a@loom.test",
                                                          "operator-a@loom.test")  # fmt: skip
    every = await client.get(OVERRIDES, params={"include_past": "true"}, headers=viewer)
    assert [o["id"] for o in every.json()["items"]] == [past, now, soon, later]
    first = await client.get(OVERRIDES, params={"limit": 2}, headers=viewer)
    rest = await client.get(OVERRIDES, params={"cursor": first.json()["next_cursor"]},
                            headers=viewer)  # fmt: skip
    assert [o["id"] for o in first.json()["items"] + rest.json()["items"]] == [now, soon, later]


async def test_an_operator_removes_an_override_and_the_rotation_covers_again(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant
) -> None:
    await client.post(SCHEDULES, json=_rota(team="team-a"), headers=admin_headers)
    h = tenant.headers
    cover = await _add(client, h["operator-a"], _cover(ADMIN_EMAIL, -timedelta(hours=1),
                                                       timedelta(hours=1)))  # fmt: skip
    oncall = await client.get(f"{SCHEDULES}/db-oncall/oncall", headers=h["viewer-a"])
    assert oncall.json()["shift"]["source"] == "override"

    assert (await client.delete(f"{OVERRIDES}/{cover}", headers=h["viewer-a"])).status_code == 403
    # Team B does not see team A's schedule at all.
    assert (await client.delete(f"{OVERRIDES}/{cover}", headers=h["admin-b"])).status_code == 404
    assert (await client.get(OVERRIDES, headers=h["admin-b"])).status_code == 404
    gone = await client.delete(f"{OVERRIDES}/{cover}", headers=h["operator-a"])
    assert gone.status_code == 204, gone.text

    assert (await client.get(OVERRIDES, headers=h["viewer-a"])).json()["items"] == []
    oncall = await client.get(f"{SCHEDULES}/db-oncall/oncall", headers=h["viewer-a"])
    assert (oncall.json()["shift"]["user"], oncall.json()["shift"]["source"]) == (
        "operator-a@loom.test", "primary",
    )  # fmt: skip
    again = await client.delete(f"{OVERRIDES}/{cover}", headers=h["operator-a"])
    assert again.status_code == 404 and again.json()["error"]["code"] == "NOT_FOUND"
    async with app.state.runtime.sessions() as s:
        (entry,) = await s.scalars(
            select(AuditEntry).where(AuditEntry.action == "notify_schedule.override_delete")
        )
    assert entry.actor_name == "operator-a@loom.test"
    assert entry.before is not None and entry.before["user"] == ADMIN_EMAIL
    assert entry.before["id"] == cover


async def test_overrides_of_another_schedule_or_organisation_are_not_found(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant
) -> None:
    for name in ("db-oncall", "web-oncall"):
        made = await client.post(SCHEDULES, json=_rota(name=name), headers=admin_headers)
        assert made.status_code == 201, made.text
    theirs = await other_org_admin(app)
    cover = await _add(client, admin_headers, _cover(ADMIN_EMAIL, timedelta(0), timedelta(hours=1)))
    assert (await client.get(OVERRIDES, headers=theirs)).status_code == 404
    assert (await client.delete(f"{OVERRIDES}/{cover}", headers=theirs)).status_code == 404
    elsewhere = await client.delete(f"{SCHEDULES}/web-oncall/overrides/{cover}",
                                    headers=admin_headers)  # fmt: skip
    assert elsewhere.status_code == 404
    bad_id = await client.delete(f"{OVERRIDES}/not-an-id", headers=admin_headers)
    assert bad_id.status_code == 422
    read_only = bearer(await token_for(app, ADMIN_EMAIL, ("read",)))
    assert (await client.delete(f"{OVERRIDES}/{cover}", headers=read_only)).status_code == 403
    listed = await client.get(OVERRIDES, headers=read_only)
    assert [o["id"] for o in listed.json()["items"]] == [cover]
