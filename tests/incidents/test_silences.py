"""Silences: matchers (=, !=, =~, !~), time ranges, who may make and expire them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from loom.errors import InvalidInput
from loom.incidents import silences
from tests.conftest import Tenant
from tests.services.support import other_org_admin

SILENCES = "/api/v1/silences"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def active(
    *matchers: tuple[str, str, str], start: int = -1, end: int = 1
) -> silences.ActiveSilence:
    raw = [{"name": n, "op": op, "value": v} for n, op, v in matchers]
    return silences.ActiveSilence(
        uuid.uuid4(), NOW + timedelta(hours=start), NOW + timedelta(hours=end),
        silences.compile_matchers(raw),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("matcher", "labels", "silenced"),
    [
        (("env", "=", "prod"), {"env": "prod"}, True),
        (("env", "=", "prod"), {"env": "production"}, False),
        (("env", "!=", "prod"), {"env": "dev"}, True),
        (("env", "!=", "prod"), {}, True),  # a missing label is ""
        (("env", "=", ""), {}, True),
        (("host", "=~", "db-[0-9]+"), {"host": "db-12"}, True),
        (("host", "=~", "db-[0-9]+"), {"host": "db-12.example"}, False),  # whole value
        (("host", "!~", "db-.*"), {"host": "web-1"}, True),
        (("host", "!~", "db-.*"), {"host": "db-1"}, False),
    ],
)
def test_matchers(matcher: tuple[str, str, str], labels: dict[str, str], silenced: bool) -> None:
    silence = active(matcher)
    assert (silences.matching_silence([silence], labels, NOW) == silence.id) is silenced


def test_every_matcher_must_match_and_only_within_the_time_range() -> None:
    both = active(("env", "=", "prod"), ("team", "=", "db"))
    assert silences.matching_silence([both], {"env": "prod"}, NOW) is None
    assert silences.matching_silence([both], {"env": "prod", "team": "db"}, NOW) == both.id
    later = active(("env", "=", "prod"), start=1, end=2)
    past = active(("env", "=", "prod"), start=-2, end=0)  # ends_at is exclusive
    assert silences.matching_silence([later, past], {"env": "prod"}, NOW) is None


def test_a_bad_regex_names_its_matcher() -> None:
    with pytest.raises(InvalidInput) as caught:
        silences.compile_matchers(
            [{"name": "a", "op": "=", "value": "("}, {"name": "b", "op": "=~", "value": "("}]
        )
    assert caught.value.details[0].field == "matchers[1].value"


def body(**fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "matchers": [{"name": "alertname", "value": "Disk.*", "op": "=~"}],
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "comment": "disk swap",
        **fields,
    }


async def test_operators_make_silences_viewers_cannot(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    made = await client.post(SILENCES, json=body(), headers=tenant.headers["operator-b"])
    assert made.status_code == 201, made.text
    silence = made.json()
    assert silence["state"] == "active" and silence["created_by"] == "operator-b@loom.test"
    refused = await client.post(SILENCES, json=body(), headers=tenant.headers["viewer-a"])
    assert refused.status_code == 403
    audit = await client.get(
        "/api/v1/audit", params={"action": "silence.create"}, headers=admin_headers
    )
    assert [e["target_id"] for e in audit.json()["items"]] == [silence["id"]]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"matchers": [{"name": "a", "value": "x"}, {"name": "b", "value": "[", "op": "!~"}]},
         "matchers[1].value"),
        ({"matchers": []}, "matchers"),
        ({"matchers": [{"name": "a", "value": "x", "op": "~"}]}, "matchers[0].op"),
        ({"ends_at": "2020-01-01T00:00:00Z"}, "ends_at"),
        ({"ends_at": "2030-01-01T00:00:00"}, "ends_at"),
        ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ],
)  # fmt: skip
async def test_bad_silences_are_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], fields: dict[str, Any], field: str
) -> None:
    response = await client.post(SILENCES, json=body(**fields), headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == field


async def test_list_by_state_and_expire(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant, app: FastAPI
) -> None:
    now = datetime.now(UTC)
    running = (await client.post(SILENCES, json=body(), headers=admin_headers)).json()
    pending = (
        await client.post(
            SILENCES, headers=admin_headers,
            json=body(starts_at=(now + timedelta(hours=1)).isoformat()),
        )
    ).json()  # fmt: skip
    assert pending["state"] == "pending"

    async def ids(state: str | None = None) -> list[str]:
        params = {"state": state} if state else {}
        response = await client.get(SILENCES, params=params, headers=tenant.headers["viewer-a"])
        assert response.status_code == 200
        return [s["id"] for s in response.json()["items"]]

    assert await ids() == [pending["id"], running["id"]]
    assert await ids("active") == [running["id"]]
    assert await ids("pending") == [pending["id"]]
    assert (
        await client.delete(f"{SILENCES}/{running['id']}", headers=tenant.headers["viewer-a"])
    ).status_code == 403
    expired = await client.delete(f"{SILENCES}/{running['id']}", headers=admin_headers)
    assert expired.status_code == 200 and expired.json()["state"] == "expired"
    assert await ids("active") == []
    assert await ids("expired") == [running["id"]]
    other = await other_org_admin(app)
    assert (await client.get(f"{SILENCES}/{pending['id']}", headers=other)).status_code == 404
    assert (await client.delete(f"{SILENCES}/{pending['id']}", headers=other)).status_code == 404
    assert (
        await client.get(f"{SILENCES}/{pending['id']}", headers=admin_headers)
    ).status_code == 200
