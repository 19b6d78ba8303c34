"""Slack's side of ChatOps: the `/loom` slash command and the buttons of Loom's messages.

Every request is checked against its workspace's signing secret (`X-Slack-Signature`
over `v0:<timestamp>:<body>`, the timestamp within five minutes), else refused with 401.
The Slack user is mapped to a Loom user of the workspace's organisation by the e-mail of
their Slack profile (`users.info`); an unknown person gets a polite answer and nothing
happens. Answers are ephemeral (only the person sees them).

Wire format: https://api.slack.com/authentication/verifying-requests-from-slack,
https://api.slack.com/interactivity/slash-commands, https://api.slack.com/reference/interaction-payloads/block-actions
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import User
from loom.auth.principal import load_principal
from loom.notify import chatops
from loom.notify.channels.slack_blocks import ACK_ACTION, APPROVE_ACTION, VIEW_ACTION
from loom.notify.chatops import SECRET_OWNER, Caller
from loom.notify.models import ChatWorkspace
from loom.platform.http import HttpClients
from loom.platform.http.errors import OutboundRefused
from loom.secrets import service as secrets

#: Requests older than this are refused (replays).
MAX_AGE_SECONDS = 300
log = structlog.get_logger("loom.notify")

#: Slack's Web API, and where a button's `response_url` points.
SLACK_HOSTS = ("slack.com", "hooks.slack.com")


class NotVerified(Exception):
    """The request is not from the workspace it claims (or is stale): 401."""


def signature_valid(secret: str, timestamp: str, body: bytes, signature: str, now: float) -> bool:
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


async def verify(
    session: AsyncSession, key: bytes, headers: Mapping[str, str], body: bytes, team_id: str
) -> tuple[ChatWorkspace, dict[str, str]]:
    """The workspace the request comes from, and its secrets; NotVerified otherwise."""
    workspace = await session.scalar(
        select(ChatWorkspace).where(
            ChatWorkspace.provider == "slack", ChatWorkspace.workspace_id == team_id
        )
    )
    if workspace is None:
        raise NotVerified("unknown workspace")
    sealed = await secrets.reveal(session, key, owner_type=SECRET_OWNER, owner_id=workspace.id)
    ok = signature_valid(
        sealed.get("signing_secret", ""), headers.get("x-slack-request-timestamp", ""), body,
        headers.get("x-slack-signature", ""), time.time(),
    )  # fmt: skip
    if not ok:
        raise NotVerified("bad or stale signature")
    return workspace, sealed


async def caller(
    session: AsyncSession,
    clients: HttpClients,
    workspace: ChatWorkspace,
    sealed: Mapping[str, str],
    slack_user: str,
) -> Caller:
    """Who the Slack user is in Loom (by the e-mail of their Slack profile), if anyone."""
    note = f"from Slack by <@{slack_user}>"
    email = await _profile_email(clients, workspace, sealed, slack_user)
    if email is None:
        refusal = ("Sorry, I could not tell who you are: your Slack profile shows no e-mail "
                   "Loom can see. Nothing was done.")  # fmt: skip
        return Caller(workspace, None, note, refusal)
    user = await session.scalar(
        select(User).where(User.org_id == workspace.org_id, User.email == email,
                           User.is_active.is_(True))
    )  # fmt: skip
    if user is None:
        refusal = (f"Sorry, {email} is not a Loom user of this organisation. Nothing was "
                   "done; ask an admin to add you.")  # fmt: skip
        return Caller(workspace, None, note, refusal)
    principal = await load_principal(session, user.id, scopes=frozenset({"read", "write"}))
    return Caller(workspace, principal, note, "")


async def _profile_email(
    clients: HttpClients, workspace: ChatWorkspace, sealed: Mapping[str, str], slack_user: str
) -> str | None:
    http = clients.client("notify:slack-chatops", extra_hosts=SLACK_HOSTS)
    try:
        response = await http.post(
            f"{workspace.api_base.rstrip('/')}/users.info", data={"user": slack_user},
            headers={"Authorization": f"Bearer {sealed.get('bot_token', '')}"},
        )  # fmt: skip
        found = response.json()
        if found.get("ok"):
            return str(found["user"]["profile"].get("email") or "") or None
    except (httpx.HTTPError, OutboundRefused, ValueError, KeyError, TypeError):
        pass  # Slack said nothing usable: the person stays unknown
    return None


def answer(text: str | None) -> dict[str, Any]:
    """A slash command's or a button's reply, seen only by the person who asked (an
    empty body: nothing to say)."""
    return {} if text is None else {"response_type": "ephemeral", "text": text}


def form(body: bytes) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}


@dataclass(frozen=True)
class Interaction:
    """A click on a button of a Loom message (a block_actions payload)."""

    team_id: str
    user_id: str
    action_id: str
    value: str
    #: Where the answer goes: Slack shows nothing of the HTTP reply to a click.
    response_url: str


def interaction(fields: Mapping[str, str]) -> Interaction:
    """The click a block_actions payload describes; ValueError when it is not one."""
    payload = json.loads(fields.get("payload", "{}"))
    if not isinstance(payload, dict):
        raise ValueError("not a block_actions payload")
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else {}
    team, user = payload.get("team"), payload.get("user")
    if not (isinstance(action, dict) and isinstance(team, dict) and isinstance(user, dict)):
        raise ValueError("not a block_actions payload")
    return Interaction(
        str(team.get("id", "")), str(user.get("id", "")), str(action.get("action_id", "")),
        str(action.get("value", "")), str(payload.get("response_url") or ""),
    )  # fmt: skip


async def reply(clients: HttpClients, response_url: str, text: str | None) -> bool:
    """Post a click's answer to its `response_url`, seen only by the person who clicked
    (after the action is committed); whether Slack took it. A refused or failing
    `response_url` only costs the person the sentence: the action stands."""
    if text is None or not response_url:
        return False
    http = clients.client("notify:slack-chatops", extra_hosts=SLACK_HOSTS)
    body = {**answer(text), "replace_original": False}
    try:
        response = await http.post(response_url, json=body)
    except (httpx.HTTPError, OutboundRefused) as error:
        log.warning("slack response_url refused", error=str(error))
        return False
    return response.is_success


async def run_action(session: AsyncSession, who: Caller, action_id: str, value: str) -> str | None:
    """A button of a Loom message: Acknowledge (an incident), Approve (a request); None
    for View, a link Slack opens itself (it still tells Loom of the click)."""
    if action_id == VIEW_ACTION:
        return None
    if action_id == APPROVE_ACTION:
        return await chatops.approve(session, who, value)
    if who.principal is not None and action_id != ACK_ACTION:
        return "That button does nothing from Slack yet."
    return await chatops.acknowledge(session, who, value)
