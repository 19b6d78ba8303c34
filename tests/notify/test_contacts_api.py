"""Contact methods through the API: everyone manages their own, an organisation admin
anyone's; the carrying channel must suit the kind and belong to the organisation. And
policy levels naming users, teams and schedules, by name in and out."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Tenant, bearer, token_for
from tests.services.support import other_org_admin

NOTIFY = "/api/v1/notify"
CONTACTS = NOTIFY + "/contact-methods"
SLACK_BOT = {"mode": "bot", "channel": "#incidents", "api_base": "http://127.0.0.1:9/api"}
MAIL = {"host": "127.0.0.1", "port": 2525, "security": "none", "sender": "loom@loom.test",
        "recipients": ["ops@loom.test"]}  # fmt: skip


async def post(client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def fields(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["error"]["details"]]


@pytest.fixture
async def channels(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    """The organisation's Slack bot, Slack webhook and e-mail channels."""
    for body in (
        {"name": "slack-bot", "kind": "slack", "config": SLACK_BOT,
         "secrets": {"bot_token": "xoxb-1-2-x"}},
        {"name": "slack-hook", "kind": "slack", "config": {"mode": "webhook"},
         "secrets": {"webhook_url": "https://hooks.slack.com/services/T/B/x"}},
        {"name": "mail", "kind": "email", "config": MAIL},
    ):  # fmt: skip
        await post(client, NOTIFY + "/channels", body, admin_headers)


async def test_a_user_manages_their_own_contact_methods(
    client: httpx.AsyncClient, tenant: Tenant, channels: None
) -> None:
    viewer = tenant.headers["viewer-a"]
    dm = await post(client, CONTACTS, {"kind": "slack", "address": "U0ALICE",
                                       "channel": "slack-bot"}, viewer)  # fmt: skip
    mail = await post(client, CONTACTS, {"kind": "email", "address": "alice@home.test",
                                         "channel": "mail", "position": 1}, viewer)  # fmt: skip
    assert (dm["user"], dm["channel"], dm["address"]) == (
        "viewer-a@loom.test",
        "slack-bot",
        "U0ALICE",
    )
    listed = (await client.get(CONTACTS, headers=viewer)).json()["items"]
    assert [m["id"] for m in listed] == [dm["id"], mail["id"]]
    # Someone else's list does not show them.
    assert (await client.get(CONTACTS, headers=tenant.headers["viewer-b"])).json()["items"] == []
    again = await client.post(CONTACTS, json={"kind": "slack", "address": "U0ALICE",
                                              "channel": "slack-bot"}, headers=viewer)  # fmt: skip
    assert again.status_code == 409
    gone = await client.delete(f"{CONTACTS}/{dm['id']}", headers=viewer)
    assert gone.status_code == 204
    listed = (await client.get(CONTACTS, headers=viewer)).json()["items"]
    assert [m["id"] for m in listed] == [mail["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "slack", "address": "U0ALICE", "channel": "mail"}, "channel"),
        ({"kind": "slack", "address": "U0ALICE", "channel": "slack-hook"}, "channel"),
        ({"kind": "email", "address": "a@b.test", "channel": "slack-bot"}, "channel"),
        ({"kind": "email", "address": "a@b.test", "channel": "nope"}, "channel"),
        ({"kind": "slack", "address": "#general", "channel": "slack-bot"}, "address"),
        ({"kind": "email", "address": "alice\r\nBcc: x@y.test", "channel": "mail"}, "address"),
        ({"kind": "sms", "address": "+33600000000", "channel": "mail"}, "kind"),
    ],
)
async def test_a_channel_that_cannot_carry_it_or_a_bad_address_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, channels: None, body: dict[str, str], field: str
) -> None:
    response = await client.post(CONTACTS, json=body, headers=tenant.headers["viewer-a"])
    assert response.status_code == 422, response.text
    assert fields(response) == [field]


async def test_only_an_admin_manages_someone_elses(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant, channels: None
) -> None:
    body = {"kind": "email", "address": "bob@home.test", "channel": "mail",
            "user": "viewer-b@loom.test"}  # fmt: skip
    as_team_admin = await client.post(CONTACTS, json=body, headers=tenant.headers["admin-a"])
    assert as_team_admin.status_code == 403
    listing = await client.get(CONTACTS, params={"user": "viewer-b@loom.test"},
                               headers=tenant.headers["viewer-a"])  # fmt: skip
    assert listing.status_code == 403
    made = await post(client, CONTACTS, body, admin_headers)
    assert made["user"] == "viewer-b@loom.test"
    seen = await client.get(CONTACTS, params={"user": "viewer-b@loom.test"}, headers=admin_headers)
    assert [m["id"] for m in seen.json()["items"]] == [made["id"]]
    mine = (await client.get(CONTACTS, headers=tenant.headers["viewer-b"])).json()["items"]
    assert [m["id"] for m in mine] == [made["id"]]
    by_other = await client.delete(f"{CONTACTS}/{made['id']}", headers=tenant.headers["viewer-a"])
    assert by_other.status_code == 403
    assert (
        await client.delete(f"{CONTACTS}/{made['id']}", headers=admin_headers)
    ).status_code == 204


async def test_another_organisations_users_and_channels_are_unknown(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], channels: None
) -> None:
    theirs = await other_org_admin(app)
    their_mail = await post(client, NOTIFY + "/channels",
                            {"name": "mail", "kind": "email", "config": MAIL}, theirs)  # fmt: skip
    refused = await client.post(CONTACTS, json={"kind": "email", "address": "a@b.test",
                                                "channel": their_mail["id"]},
                                headers=admin_headers)  # fmt: skip
    assert refused.status_code == 422 and fields(refused) == ["channel"]
    for response in (
        await client.get(CONTACTS, params={"user": "boss@other.test"}, headers=admin_headers),
        await client.post(CONTACTS, json={"kind": "email", "address": "a@b.test",
                                          "channel": "mail", "user": "boss@other.test"},
                          headers=admin_headers),
    ):  # fmt: skip
        assert response.status_code == 422 and fields(response) == ["user"]
    mine = await post(client, CONTACTS, {"kind": "email", "address": "me@home.test",
                                         "channel": "mail"}, admin_headers)  # fmt: skip
    assert (await client.delete(f"{CONTACTS}/{mine['id']}", headers=theirs)).status_code == 404
    assert (await client.get(CONTACTS, headers=theirs)).json()["items"] == []


async def test_policy_levels_name_users_teams_and_schedules(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant, channels: None
) -> None:
    await post(client, NOTIFY + "/schedules", {
        "name": "db-oncall", "time_zone": "UTC",
        "layers": [{"rotation": "daily", "start": "2026-01-01", "users": ["viewer-a@loom.test"]}],
    }, admin_headers)  # fmt: skip
    policy = await post(client, NOTIFY + "/policies", {"name": "people", "levels": [
        {"delay_minutes": 0, "schedules": ["db-oncall"]},
        {"delay_minutes": 10, "users": ["viewer-b@loom.test"], "teams": ["team-a"],
         "channels": ["slack-bot"]},
    ]}, admin_headers)  # fmt: skip
    first, second = policy["levels"]
    assert first == {"delay_minutes": 0, "channels": [], "users": [], "teams": [],
                     "schedules": ["db-oncall"]}  # fmt: skip
    assert (second["users"], second["teams"], second["channels"]) == (
        ["viewer-b@loom.test"],
        ["team-a"],
        ["slack-bot"],
    )
    bad = await client.post(NOTIFY + "/policies", json={"name": "bad", "levels": [
        {"users": ["admin@loom.test", "ghost@loom.test"], "teams": ["team-z"],
         "schedules": ["nope"]},
    ]}, headers=admin_headers)  # fmt: skip
    assert bad.status_code == 422
    assert sorted(fields(bad)) == ["levels[0].schedules[0]", "levels[0].teams[0]",
                                   "levels[0].users[1]"]  # fmt: skip
    empty = await client.post(NOTIFY + "/policies", json={"name": "empty", "levels": [
        {"delay_minutes": 5}]}, headers=admin_headers)  # fmt: skip
    assert empty.status_code == 422 and fields(empty) == ["levels[0]"]


async def test_a_read_only_token_cannot_change_them(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, channels: None
) -> None:
    read_only = bearer(await token_for(app, "viewer-a@loom.test", ("read",)))
    body = {"kind": "email", "address": "a@home.test", "channel": "mail"}
    assert (await client.post(CONTACTS, json=body, headers=read_only)).status_code == 403
    made = await post(client, CONTACTS, body, tenant.headers["viewer-a"])
    assert (await client.get(CONTACTS, headers=read_only)).json()["items"][0]["id"] == made["id"]
    assert (await client.delete(f"{CONTACTS}/{made['id']}", headers=read_only)).status_code == 403
