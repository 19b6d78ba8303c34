"""ChatOps endpoints: Slack's slash command and interactive buttons (public, each request
verified by its workspace's signing secret), and registering a workspace (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.exceptions import HTTPException

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.auth.roles import Role
from loom.errors import Conflict
from loom.incidents.alerts_router import read_body
from loom.notify import chatops
from loom.notify.models import ChatWorkspace
from loom.platform.http import http_clients
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
    fields = chatops.form(body)
    async with session.begin():
        who = await _who(request, session, runtime, body, fields.get("team_id", ""),
                         fields.get("user_id", ""))  # fmt: skip
        return await chatops.run_command(session, who, fields.get("text", ""))


@router.post("/slack/interactions")
async def slack_interaction(request: Request, session: SessionDep, runtime: RuntimeDep) -> Any:
    """A button of a Loom message in Slack (`payload` form field, signed)."""
    body = await read_body(request)
    try:
        team_id, user_id, action_id, value = chatops.interaction(chatops.form(body))
    except ValueError:
        raise HTTPException(400, "payload: not a Slack interaction") from None
    async with session.begin():
        who = await _who(request, session, runtime, body, team_id, user_id)
        return await chatops.run_action(session, who, action_id, value)


async def _who(
    request: Request, session: SessionDep, runtime: RuntimeDep, body: bytes, team_id: str,
    user_id: str,
) -> chatops.Caller:  # fmt: skip
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    try:
        workspace, sealed = await chatops.verify(session, key, request.headers, body, team_id)
    except chatops.NotVerified:
        raise HTTPException(401, "not signed by a registered Slack workspace") from None
    return await chatops.caller(session, http_clients(runtime), workspace, sealed, user_id)
