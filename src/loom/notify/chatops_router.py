"""ChatOps endpoints: Slack's slash command and interactive buttons, Teams' outgoing
webhook (public, each request verified by its workspace's secret), registering a
workspace (admins), the codes that link a Teams person to their Loom user, and those
links (list, remove)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.exceptions import HTTPException

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep, read_body
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.auth.models import User
from loom.auth.roles import Role
from loom.db.filters import names_by_id
from loom.db.types import utcnow
from loom.errors import Conflict
from loom.notify import chatops, chatops_slack, chatops_teams, chatops_teams_setup, models
from loom.notify.chat_schemas import (
    ChatLinkCode,
    ChatMember,
    TeamsTokenUpdate,
    TeamsWebhook,
    TeamsWebhookCreate,
)
from loom.notify.models import ChatWorkspace
from loom.platform.http import http_clients
from loom.provisioning.dispatch import enqueue_for
from loom.secrets import service as secrets
from loom.secrets.crypto import derive_key

router = APIRouter(prefix="/chatops", tags=["chatops"])
workspaces = APIRouter(prefix="/notify", tags=["notify"])


class WorkspaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Slack's team id ("T0123ABC").
    workspace_id: str = Field(min_length=1, max_length=64)
    api_base: str = Field(default="https://slack.com/api", pattern=r"^https?://\S+$")
    signing_secret: str = Field(min_length=1, max_length=200)
    #: A bot token with the users:read and users:read.email scopes.
    bot_token: str = Field(min_length=1, max_length=300)


class Workspace(BaseModel):
    workspace_id: str
    api_base: str
    secrets: dict[str, str]


@workspaces.post(
    "/chat-workspaces/slack", response_model=Workspace, status_code=status.HTTP_201_CREATED
)
async def register_slack(
    body: WorkspaceIn, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> Workspace:
    """Let a Slack workspace act on this organisation's incidents (organisation admins)."""
    principal.require_org_role(Role.ADMIN)
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    async with session.begin():
        if await session.scalar(select(ChatWorkspace.id).where(
            ChatWorkspace.provider == "slack", ChatWorkspace.workspace_id == body.workspace_id
        )) is not None:  # fmt: skip
            raise Conflict(f"Slack workspace '{body.workspace_id}' is registered")
        workspace = ChatWorkspace(
            org_id=principal.org_id, provider="slack", workspace_id=body.workspace_id,
            api_base=body.api_base, created_by=principal.email,
        )  # fmt: skip
        session.add(workspace)
        await session.flush()
        sealed = {"signing_secret": body.signing_secret, "bot_token": body.bot_token}
        await secrets.store(session, key, org_id=principal.org_id,
                            owner_type=chatops.SECRET_OWNER, owner_id=workspace.id,
                            values=sealed)  # fmt: skip
    return Workspace(workspace_id=workspace.workspace_id, api_base=workspace.api_base,
                     secrets=secrets.masked(sealed))  # fmt: skip


@router.post("/slack/commands")
async def slack_command(request: Request, session: SessionDep, runtime: RuntimeDep) -> Any:
    """`/loom …` from Slack (`application/x-www-form-urlencoded`, signed)."""
    body = await read_body(request)
    fields = chatops_slack.form(body)
    async with session.begin():
        who = await _who(request, session, runtime, body, fields.get("team_id", ""),
                         fields.get("user_id", ""))  # fmt: skip
        return chatops_slack.answer(await chatops.run_command(session, who, fields.get("text", "")))


@router.post("/slack/interactions")
async def slack_interaction(request: Request, session: SessionDep, runtime: RuntimeDep) -> Any:
    """A button of a Loom message in Slack (`payload` form field, signed)."""
    body = await read_body(request)
    try:
        click = chatops_slack.interaction(chatops_slack.form(body))
    except ValueError:
        raise HTTPException(400, "payload: not a Slack interaction") from None
    async with session.begin():
        who = await _who(request, session, runtime, body, click.team_id, click.user_id)
        text = await chatops_slack.run_action(session, who, click.action_id, click.value)
    # Committed: now the answer, which Slack shows only when posted to the response URL.
    await chatops_slack.reply(http_clients(runtime), click.response_url, text)
    return chatops_slack.answer(text)


async def _who(
    request: Request, session: SessionDep, runtime: RuntimeDep, body: bytes, team_id: str,
    user_id: str,
) -> chatops.Caller:  # fmt: skip
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    try:
        workspace, sealed = await chatops_slack.verify(session, key, request.headers, body,
                                                       team_id)  # fmt: skip
    except chatops_slack.NotVerified:
        raise HTTPException(401, "not signed by a registered Slack workspace") from None
    who = await chatops_slack.caller(session, http_clients(runtime), workspace, sealed, user_id)
    return replace(who, enqueue=enqueue_for(runtime))


@workspaces.post(
    "/chat-workspaces/teams", response_model=TeamsWebhook, status_code=status.HTTP_201_CREATED
)
async def register_teams(
    body: TeamsWebhookCreate, request: Request, principal: CurrentPrincipal, session: SessionDep,
    runtime: RuntimeDep,
) -> TeamsWebhook:  # fmt: skip
    """Register a Teams outgoing webhook (organisation admins): answers its callback URL."""
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    async with session.begin():
        workspace = await chatops_teams_setup.register(session, key, principal,
                                                       body.security_token)  # fmt: skip
    token = {"security_token": ""} if body.security_token is not None else {}
    return _teams_webhook(request, runtime, workspace, token)


@workspaces.put("/chat-workspaces/teams/{workspace_id}/security-token", response_model=TeamsWebhook)
async def set_teams_token(
    workspace_id: str, body: TeamsTokenUpdate, request: Request, principal: CurrentPrincipal,
    session: SessionDep, runtime: RuntimeDep,
) -> TeamsWebhook:  # fmt: skip
    """Keep the security token Teams showed once it had the callback URL (admins)."""
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    async with session.begin():
        workspace = await chatops_teams_setup.set_token(session, key, principal, workspace_id,
                                                        body.security_token)  # fmt: skip
    return _teams_webhook(request, runtime, workspace, {"security_token": ""})


@workspaces.post(
    "/chat-workspaces/teams/{workspace_id}/link-codes", response_model=ChatLinkCode,
    status_code=status.HTTP_201_CREATED,
)  # fmt: skip
async def teams_link_code(
    workspace_id: str, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> ChatLinkCode:
    """A one-time code the caller says in Teams (`@Loom link <code>`) to act from there."""
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    async with session.begin():
        code, expires = await chatops_teams_setup.issue_link_code(
            session, key, principal, workspace_id, utcnow()
        )
    return ChatLinkCode(code=code, expires_at=expires, say=f"{chatops_teams.PREFIX} link {code}")


@workspaces.get(
    "/chat-workspaces/teams/{workspace_id}/members", responses={200: {"model": Page[ChatMember]}}
)
async def list_teams_members(
    workspace_id: str, principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    """The Teams people linked through this webhook (organisation admins: everyone's;
    others: their own), oldest first."""
    member = models.ChatMember
    async with session.begin():
        workspace = await chatops_teams_setup.find(session, principal, workspace_id)
        rows, cursor = await paginate(
            session, chatops_teams_setup.members_query(principal, workspace),
            [member.created_at, member.id], page, descending=False,
        )  # fmt: skip
        emails = await names_by_id(session, User.email, User.id, (m.user_id for m in rows))
    items = [
        ChatMember(id=m.id, user=emails.get(m.user_id, str(m.user_id)),
                   remote_user_id=m.remote_user_id, display_name=m.display_name,
                   created_at=m.created_at)
        for m in rows
    ]  # fmt: skip
    return page_body(items, cursor, page)


@workspaces.delete(
    "/chat-workspaces/teams/{workspace_id}/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def unlink_teams_member(
    workspace_id: str, member_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """Forget a link (organisation admins, or the person linked)."""
    async with session.begin():
        await chatops_teams_setup.unlink(session, principal, workspace_id, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/teams/messages/{workspace_id}")
async def teams_message(
    workspace_id: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """`@Loom …` in a Teams channel (an outgoing webhook's activity, HMAC-signed)."""
    body = await read_body(request)
    activity = _json_object(body)
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    now = utcnow()
    async with session.begin():
        try:
            workspace = await chatops_teams.verify(
                session, key, workspace_id, request.headers.get("authorization", ""), body,
                activity, now,
            )  # fmt: skip
        except chatops_teams.NotVerified:
            raise HTTPException(401, "not signed by a registered Teams outgoing webhook") from None
        assert activity is not None  # an activity without its timestamp is not verified
        who = await chatops_teams.caller(session, workspace, activity)
        who = replace(who, enqueue=enqueue_for(runtime))
        return chatops_teams.answer(await chatops_teams.run(session, key, who, activity, now))


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _teams_webhook(
    request: Request, runtime: RuntimeDep, workspace: ChatWorkspace, sealed: dict[str, str]
) -> TeamsWebhook:
    base = runtime.settings.server.public_url or str(request.base_url)
    return TeamsWebhook(
        workspace_id=workspace.workspace_id, secrets=secrets.masked(sealed),
        endpoint_url=base.rstrip("/") + chatops_teams_setup.endpoint_path(workspace),
    )  # fmt: skip
