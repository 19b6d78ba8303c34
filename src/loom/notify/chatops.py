"""ChatOps from Slack: the `/loom` slash command and the buttons of Loom's messages.

Every request is checked against its workspace's signing secret (`X-Slack-Signature`
over `v0:<timestamp>:<body>`, the timestamp within five minutes), else refused with 401.
The Slack user is mapped to a Loom user of the workspace's organisation by the e-mail of
their Slack profile (`users.info`); an unknown or unauthorised person gets a polite
answer and nothing happens. Actions go through the same service functions and roles as
the API, and their audit entries say they came from Slack and who typed them.

Wire format: https://api.slack.com/authentication/verifying-requests-from-slack,
https://api.slack.com/interactivity/slash-commands, https://api.slack.com/reference/interaction-payloads/block-actions
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import User
from loom.auth.principal import Principal, load_principal
from loom.db.types import utcnow
from loom.errors import LoomError
from loom.incidents import lifecycle
from loom.incidents.kinds import OPEN, IncidentStatus
from loom.incidents.models import Incident
from loom.incidents.queries import get_incident
from loom.notify import schedules_service
from loom.notify.models import ChatWorkspace, Schedule
from loom.platform.http import HttpClients
from loom.platform.http.errors import OutboundRefused
from loom.secrets import service as secrets

SECRET_OWNER = "chat_workspace"  # noqa: S105 - the owner type of its secrets
#: Requests older than this are refused (replays).
MAX_AGE_SECONDS = 300
SLACK_HOSTS = ("slack.com",)


class NotVerified(Exception):
    """The request is not from the workspace it claims (or is stale): 401."""


@dataclass(frozen=True)
class Caller:
    workspace: ChatWorkspace
    slack_user: str
    principal: Principal | None
    email: str | None


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
    http = clients.client("notify:slack-chatops", extra_hosts=SLACK_HOSTS)
    email = None
    try:
        response = await http.post(
            f"{workspace.api_base.rstrip('/')}/users.info", data={"user": slack_user},
            headers={"Authorization": f"Bearer {sealed.get('bot_token', '')}"},
        )  # fmt: skip
        found = response.json()
        if found.get("ok"):
            email = str(found["user"]["profile"].get("email") or "") or None
    except (httpx.HTTPError, OutboundRefused, ValueError, KeyError, TypeError):
        email = None  # Slack said nothing usable: the person stays unknown
    if email is None:
        return Caller(workspace, slack_user, None, None)
    user = await session.scalar(
        select(User).where(User.org_id == workspace.org_id, User.email == email,
                           User.is_active.is_(True))
    )  # fmt: skip
    if user is None:
        return Caller(workspace, slack_user, None, email)
    principal = await load_principal(session, user.id, scopes=frozenset({"read", "write"}))
    return Caller(workspace, slack_user, principal, email)


Handler = Callable[[AsyncSession, Caller, list[str]], Awaitable[str]]


async def run_command(session: AsyncSession, who: Caller, text: str) -> dict[str, Any]:
    """The answer to `/loom <text>` (ephemeral: only the person sees it)."""
    words = text.split()
    name, args = (words[0].lower(), words[1:]) if words else ("help", [])
    handler = COMMANDS.get(name)
    if handler is None:
        return _answer(f"Unknown command `{name}`. {HELP}")
    if who.principal is None:
        return _answer(_refusal(who))
    try:
        return _answer(await handler(session, who, args))
    except LoomError as error:
        return _answer(f"Sorry, that did not work: {error}")


async def run_action(
    session: AsyncSession, who: Caller, action_id: str, value: str
) -> dict[str, Any]:
    """A button of a Loom message (Acknowledge)."""
    if who.principal is None:
        return _answer(_refusal(who))
    if action_id != "loom_ack":
        return _answer("That button does nothing from Slack yet.")
    try:
        return _answer(await _ack(session, who, [value]))
    except LoomError as error:
        return _answer(f"Sorry, that did not work: {error}")


def _answer(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def _refusal(who: Caller) -> str:
    if who.email is None:
        return ("Sorry, I could not tell who you are: your Slack profile shows no e-mail "
                "Loom can see. Nothing was done.")  # fmt: skip
    return (f"Sorry, {who.email} is not a Loom user of this organisation. Nothing was "
            "done; ask an admin to add you.")  # fmt: skip


def _note(who: Caller) -> str:
    return f"from Slack by <@{who.slack_user}>"


async def _status(session: AsyncSession, who: Caller, args: list[str], new: IncidentStatus) -> str:
    if not args:
        return "Which incident? e.g. `/loom ack INC-42`"
    assert who.principal is not None
    incident = await lifecycle.change_status(
        session, who.principal, _ref(args[0]), new, note=_note(who)
    )
    return f"INC-{incident.number} is {incident.status} ({who.email})."


def _ref(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


async def _ack(session: AsyncSession, who: Caller, args: list[str]) -> str:
    return await _status(session, who, args, IncidentStatus.ACKNOWLEDGED)


async def _resolve(session: AsyncSession, who: Caller, args: list[str]) -> str:
    return await _status(session, who, args, IncidentStatus.RESOLVED)


async def _incidents(session: AsyncSession, who: Caller, args: list[str]) -> str:
    assert who.principal is not None
    found = list(await session.scalars(
        select(Incident).where(Incident.org_id == who.principal.org_id,
                               Incident.status.in_([s.value for s in OPEN]))
        .order_by(Incident.number.desc()).limit(20)
    ))  # fmt: skip
    if not found:
        return "No open incident."
    return "\n".join(f"• INC-{i.number} [{i.severity}] {i.status}: {i.title}" for i in found)


async def _incident(session: AsyncSession, who: Caller, args: list[str]) -> str:
    if not args:
        return "Which incident? e.g. `/loom incident INC-42`"
    assert who.principal is not None
    i = await get_incident(session, who.principal, _ref(args[0]))
    return (f"INC-{i.number} [{i.severity}] {i.status}: {i.title}\n"
            f"{i.alert_count} alerts ({i.firing_count} firing)")  # fmt: skip


async def _oncall(session: AsyncSession, who: Caller, args: list[str]) -> str:
    assert who.principal is not None
    stmt = schedules_service.list_query(who.principal)
    if args:
        stmt = stmt.where(Schedule.name == args[0])
    lines = []
    for schedule in await session.scalars(stmt.order_by(Schedule.name)):
        now = await schedules_service.on_call(session, schedule, utcnow())
        lines.append(f"• {schedule.name}: {now.shift.user if now.shift else 'nobody'}")
    return "\n".join(lines) or "No on-call schedule."


async def _later(session: AsyncSession, who: Caller, args: list[str]) -> str:
    return "Not available from Slack yet: use the portal or `loom` for now."


HELP = ("Try `/loom incidents`, `/loom incident INC-42`, `/loom ack INC-42`, "
        "`/loom resolve INC-42`, `/loom oncall [schedule]`.")  # fmt: skip


async def _help(session: AsyncSession, who: Caller, args: list[str]) -> str:
    return HELP


COMMANDS: dict[str, Handler] = {
    "help": _help, "incidents": _incidents, "incident": _incident, "ack": _ack,
    "resolve": _resolve, "oncall": _oncall, "run": _later, "approve": _later,
}  # fmt: skip


def form(body: bytes) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}


def interaction(fields: Mapping[str, str]) -> tuple[str, str, str, str]:
    """(team id, user id, action id, value) of a block_actions payload."""
    payload = json.loads(fields.get("payload", "{}"))
    action = (payload.get("actions") or [{}])[0]
    return (str(payload.get("team", {}).get("id", "")), str(payload.get("user", {}).get("id", "")),
            str(action.get("action_id", "")), str(action.get("value", "")))  # fmt: skip
