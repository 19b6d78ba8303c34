"""Setting up Teams ChatOps: registering an outgoing webhook, keeping its security token,
the one-time codes people say in Teams to link themselves (`chatops_teams`), and the
links they made (organisation admins see and remove anyone's; others their own).

Teams asks for the callback URL before it shows the security token, so registering
answers the URL at once (named by an id Loom draws: it says nothing about the
organisation and cannot be guessed) and the token may come then or later; until it
comes, every call to the URL is refused.
"""

from __future__ import annotations

import base64
import os
import secrets as pysecrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.errors import NotFound
from loom.notify.chatops import SECRET_OWNER
from loom.notify.chatops_teams import CODE_OWNER, PROVIDER, owner
from loom.notify.models import ChatMember, ChatWorkspace
from loom.secrets import service as secrets

CODE_TTL = timedelta(minutes=10)


def endpoint_path(workspace: ChatWorkspace) -> str:
    """The callback URL's path, to paste into Teams after the public URL."""
    return f"/api/v1/chatops/teams/messages/{workspace.workspace_id}"


async def register(
    session: AsyncSession, key: bytes, principal: Principal, security_token: str | None
) -> ChatWorkspace:
    """A new outgoing webhook of the caller's organisation (organisation admins)."""
    principal.require_org_role(Role.ADMIN)
    workspace = ChatWorkspace(
        org_id=principal.org_id, provider=PROVIDER, workspace_id=pysecrets.token_urlsafe(24),
        api_base="", created_by=principal.email,
    )  # fmt: skip
    session.add(workspace)
    await session.flush()
    if security_token is not None:
        await _seal(session, key, workspace, security_token)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="chat_workspace.create",
        target_type="chat_workspace", target_id=workspace.id,
        after={"provider": PROVIDER, "security_token": security_token is not None},
    )  # fmt: skip
    return workspace


async def set_token(
    session: AsyncSession, key: bytes, principal: Principal, workspace_id: str, token: str
) -> ChatWorkspace:
    """Keep (or replace) the security token Teams showed for the webhook."""
    principal.require_org_role(Role.ADMIN)
    workspace = await find(session, principal, workspace_id)
    await _seal(session, key, workspace, token)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="chat_workspace.update",
        target_type="chat_workspace", target_id=workspace.id,
        after={"provider": PROVIDER, "security_token": True},
    )  # fmt: skip
    return workspace


async def _seal(session: AsyncSession, key: bytes, workspace: ChatWorkspace, token: str) -> None:
    await secrets.store(session, key, org_id=workspace.org_id, owner_type=SECRET_OWNER,
                        owner_id=workspace.id, values={"security_token": token})  # fmt: skip


async def find(session: AsyncSession, principal: Principal, workspace_id: str) -> ChatWorkspace:
    """A Teams outgoing webhook of the caller's organisation."""
    workspace = await session.scalar(
        select(ChatWorkspace).where(
            ChatWorkspace.provider == PROVIDER, ChatWorkspace.workspace_id == workspace_id,
            ChatWorkspace.org_id == principal.org_id,
        )
    )  # fmt: skip
    if workspace is None:
        raise NotFound(f"no Teams outgoing webhook '{workspace_id}'")
    return workspace


async def issue_link_code(
    session: AsyncSession, key: bytes, principal: Principal, workspace_id: str, now: datetime
) -> tuple[str, datetime]:
    """A one-time code for the caller to say in Teams (`link <code>`), and its expiry.
    Any member may link themselves: what they may do stays what their role allows."""
    workspace = await find(session, principal, workspace_id)
    code = base64.b32encode(os.urandom(10)).decode()
    expires = now + CODE_TTL
    await secrets.store(session, key, org_id=workspace.org_id, owner_type=CODE_OWNER,
                        owner_id=owner(workspace, f"code:{code}"),
                        values={"user_id": str(principal.user_id),
                                "expires_at": expires.isoformat()})  # fmt: skip
    return code, expires


def members_query(principal: Principal, workspace: ChatWorkspace) -> Select[ChatMember]:
    """The webhook's links the caller may see: all for organisation admins, else their own."""
    stmt = select(ChatMember).where(
        ChatMember.workspace_id == workspace.id, ChatMember.org_id == principal.org_id
    )
    if principal.org_role < Role.ADMIN:
        stmt = stmt.where(ChatMember.user_id == principal.user_id)
    return stmt


async def unlink(
    session: AsyncSession, principal: Principal, workspace_id: str, member_id: uuid.UUID
) -> None:
    """Forget a link (organisation admins, or the person linked): what that Teams person
    says is refused again until they link anew."""
    workspace = await find(session, principal, workspace_id)
    member = await session.scalar(
        select(ChatMember).where(
            ChatMember.id == member_id, ChatMember.workspace_id == workspace.id,
            ChatMember.org_id == principal.org_id,
        )
    )  # fmt: skip
    if member is None:
        raise NotFound(f"no linked Teams person '{member_id}' on this webhook")
    if member.user_id != principal.user_id:
        principal.require_org_role(Role.ADMIN)
    principal.require_scope("write")
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="chat_member.delete",
        target_type="chat_member", target_id=member.id,
        before={"provider": PROVIDER, "workspace": workspace.workspace_id,
                "chat_user": member.remote_user_id, "chat_name": member.display_name,
                "user_id": str(member.user_id)},
    )  # fmt: skip
    await session.delete(member)
