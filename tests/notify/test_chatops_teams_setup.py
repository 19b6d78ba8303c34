"""The links between Teams people and Loom users (`notify_chat_members`): organisation
admins list and remove anyone's, others only their own; a removed link makes Loom refuse
that person again; another organisation's webhook is not found."""

from __future__ import annotations

import json
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from loom.audit.models import AuditEntry
from loom.notify.models import ChatMember
from loom.secrets.models import StoredSecret
from tests.conftest import Tenant
from tests.notify import test_chatops_teams as teams
from tests.notify.test_chatops_teams import webhook  # noqa: F401 - fixture
from tests.services.support import other_org_admin


def members_url(path: str) -> str:
    """The links of the webhook whose callback path is `path`."""
    return f"/api/v1/notify/chat-workspaces/teams/{path.rsplit('/', 1)[-1]}/members"


async def linked(client: httpx.AsyncClient, path: str, headers: dict[str, str],
                 person: dict[str, str]) -> None:  # fmt: skip
    code = await teams.link(client, path, headers, person)
    assert "Loom now knows you" in await teams.say(client, path, person, f"link {code}")


async def listed(client: httpx.AsyncClient, path: str,
                 headers: dict[str, str]) -> list[dict[str, str]]:  # fmt: skip
    found = await client.get(members_url(path), headers=headers)
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


async def test_admins_list_every_link_and_others_their_own(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, webhook: str,  # noqa: F811
    admin_headers: dict[str, str],
) -> None:  # fmt: skip
    await linked(client, webhook, tenant.headers["operator-a"], teams.OPS)
    await linked(client, webhook, tenant.headers["viewer-a"], teams.VIEW)
    await linked(client, webhook, tenant.headers["operator-a"], teams.OPS)  # again: one link
    everyone = await listed(client, webhook, admin_headers)
    assert [(m["user"], m["remote_user_id"], m["display_name"]) for m in everyone] == [
        ("operator-a@loom.test", f"aad:{teams.OPS['aadObjectId']}", "Ann Operator"),
        ("viewer-a@loom.test", f"aad:{teams.VIEW['aadObjectId']}", "Val Viewer"),
    ]
    own = await listed(client, webhook, tenant.headers["viewer-a"])
    assert [m["user"] for m in own] == ["viewer-a@loom.test"]
    # team admins are not organisation admins: their own links only
    assert await listed(client, webhook, tenant.headers["admin-a"]) == []
    paged = await client.get(members_url(webhook), params={"limit": 1}, headers=admin_headers)
    assert [m["user"] for m in paged.json()["items"]] == ["operator-a@loom.test"]
    rest = await client.get(members_url(webhook), headers=admin_headers,
                            params={"limit": 1, "cursor": paged.json()["next_cursor"]})  # fmt: skip
    assert [m["user"] for m in rest.json()["items"]] == ["viewer-a@loom.test"]
    async with app.state.runtime.sessions() as s:
        rows = await s.scalar(select(func.count()).select_from(ChatMember))
        sealed = await s.scalar(
            select(func.count()).where(StoredSecret.owner_type == "chat_member")
        )
    assert (rows, sealed) == (2, 0)  # a table row each; nothing sealed for links


async def test_an_unlinked_person_is_refused_again(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, webhook: str,  # noqa: F811
    admin_headers: dict[str, str],
) -> None:  # fmt: skip
    operator, viewer = tenant.headers["operator-a"], tenant.headers["viewer-a"]
    await linked(client, webhook, operator, teams.OPS)
    await linked(client, webhook, viewer, teams.VIEW)
    assert "Loom does not know you" not in await teams.say(client, webhook, teams.OPS, "incidents")
    mine = (await listed(client, webhook, operator))[0]
    gone = await client.delete(f"{members_url(webhook)}/{mine['id']}", headers=operator)
    assert gone.status_code == 204, gone.text
    assert "Loom does not know you yet" in await teams.say(client, webhook, teams.OPS, "incidents")
    theirs = (await listed(client, webhook, viewer))[0]
    removed = await client.delete(f"{members_url(webhook)}/{theirs['id']}", headers=admin_headers)
    assert removed.status_code == 204, removed.text
    assert await listed(client, webhook, admin_headers) == []
    assert "Loom does not know you yet" in await teams.say(client, webhook, teams.VIEW, "incidents")
    again = await client.delete(f"{members_url(webhook)}/{theirs['id']}", headers=admin_headers)
    assert again.status_code == 404, again.text
    async with app.state.runtime.sessions() as s:
        entries = list(await s.scalars(
            select(AuditEntry).where(AuditEntry.action == "chat_member.delete")
            .order_by(AuditEntry.seq)
        ))  # fmt: skip
    assert [e.actor_name for e in entries] == ["operator-a@loom.test", "admin@loom.test"]
    assert "Val Viewer" in json.dumps(entries[1].before)


async def test_no_one_else_removes_a_link_and_other_orgs_see_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, webhook: str,  # noqa: F811
    admin_headers: dict[str, str],
) -> None:  # fmt: skip
    await linked(client, webhook, tenant.headers["viewer-a"], teams.VIEW)
    theirs = (await listed(client, webhook, admin_headers))[0]
    url = f"{members_url(webhook)}/{theirs['id']}"
    for who in ("operator-a", "admin-a"):  # not the person, not an organisation admin
        refused = await client.delete(url, headers=tenant.headers[who])
        assert refused.status_code == 403, refused.text
    stranger = await other_org_admin(app)
    assert (await client.get(members_url(webhook), headers=stranger)).status_code == 404
    foreign = await client.delete(url, headers=stranger)
    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["error"]["code"]
    unknown = await client.delete(f"{members_url(webhook)}/{uuid.uuid4()}", headers=admin_headers)
    assert unknown.status_code == 404, unknown.text
    bad = await client.delete(f"{members_url(webhook)}/not-an-id", headers=admin_headers)
    assert bad.status_code == 422, bad.text
    assert "member_id" in json.dumps(bad.json()["error"]["details"])
    assert [m["id"] for m in await listed(client, webhook, admin_headers)] == [theirs["id"]]
    assert "Loom does not know you" not in await teams.say(client, webhook, teams.VIEW, "incidents")


async def test_linking_again_with_someone_elses_code_moves_the_link(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, webhook: str,  # noqa: F811
    admin_headers: dict[str, str],
) -> None:  # fmt: skip
    await linked(client, webhook, tenant.headers["viewer-a"], teams.VIEW)
    await linked(client, webhook, tenant.headers["operator-a"], teams.VIEW)
    everyone = await listed(client, webhook, admin_headers)
    assert [m["user"] for m in everyone] == ["operator-a@loom.test"]
    assert await listed(client, webhook, tenant.headers["viewer-a"]) == []
    async with app.state.runtime.sessions() as s:
        moved = list(await s.scalars(
            select(AuditEntry).where(AuditEntry.action == "chat_member.link")
            .order_by(AuditEntry.seq)
        ))  # fmt: skip
    assert moved[0].before is None and moved[1].before is not None
    assert moved[1].after is not None and moved[1].after["chat_name"] == "Val Viewer"
