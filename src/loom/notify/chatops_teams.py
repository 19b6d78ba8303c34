"""Microsoft Teams' side of ChatOps: an outgoing webhook (`@Loom ack INC-42` in a channel).

Teams POSTs a Bot Framework message activity (`text` with `<at>Loom</at> ack INC-42`,
`from: {id, name, aadObjectId}`, `timestamp`, `channelData.tenant.id`, …) with
`Authorization: HMAC <base64 HMAC-SHA256 of the body bytes, keyed with the
base64-decoded security token>`, and shows the synchronous reply (`{"type": "message",
"text": …}`, within five seconds) in the thread. The token belongs to one outgoing
webhook, so the URL names the registered webhook. A missing, bad or stale signature (the
signed `timestamp` over five minutes away: a replay), or an unknown webhook, is a 401.
https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-outgoing-webhook

Who is speaking: an outgoing webhook gets the person's Teams id and Entra object id but no
e-mail or UPN (those reach registered bots only) and cannot call Teams. So each person
links once: in Loom they ask for a one-time code (single use, ten minutes, this webhook
only) and say `@Loom link <code>` in the channel; from then on Loom knows their Teams
identity as that Loom user. Until then, and for inactive users, nothing is done.

Links are rows of `notify_chat_members` (`ChatMember`: the webhook, the Teams identity,
the Loom user). Codes are secrets, sealed in `loom.secrets` (owner type `chat_link_code`,
owner id derived from the webhook and the code, so a code is found without being stored
in the clear).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.models import User
from loom.auth.principal import load_principal
from loom.notify import chatops
from loom.notify.chatops import SECRET_OWNER, Caller
from loom.notify.models import ChatMember, ChatWorkspace
from loom.secrets import service as secrets

PROVIDER = "teams"
CODE_OWNER = "chat_link_code"
#: Activities signed further than this from now are refused (replays).
MAX_AGE = timedelta(minutes=5)
PREFIX = "@Loom"
#: `ChatMember.remote_user_id`'s length (Entra object ids and Teams ids are far shorter).
MAX_IDENTITY = 200
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_FRACTION = re.compile(r"(\.\d{6})\d+")


class NotVerified(Exception):
    """The request is not from the outgoing webhook it names (or is stale): 401."""


def signature_valid(token: str, body: bytes, authorization: str) -> bool:
    """Whether `authorization` is `HMAC <base64 digest>` of `body` under `token`."""
    scheme, _, given = authorization.partition(" ")
    try:
        key = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return False
    if scheme != "HMAC" or not key:
        return False
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected.encode(), given.strip().encode())


async def verify(
    session: AsyncSession, key: bytes, workspace_id: str, authorization: str, body: bytes,
    activity: Mapping[str, Any] | None, now: datetime,
) -> ChatWorkspace:  # fmt: skip
    """The registered webhook that signed `body`; NotVerified otherwise."""
    workspace = await session.scalar(
        select(ChatWorkspace).where(
            ChatWorkspace.provider == PROVIDER, ChatWorkspace.workspace_id == workspace_id
        )
    )
    if workspace is None:
        raise NotVerified("unknown outgoing webhook")
    sealed = await secrets.reveal(session, key, owner_type=SECRET_OWNER, owner_id=workspace.id)
    if not signature_valid(sealed.get("security_token", ""), body, authorization):
        raise NotVerified("bad signature")
    sent = _timestamp(activity.get("timestamp") if activity else None)
    if sent is None or abs(now - sent) > MAX_AGE:
        raise NotVerified("stale or undated activity")
    return workspace


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:  # .NET sends seven fractional digits; Python reads six
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def command_text(activity: Mapping[str, Any]) -> str:
    """What the person typed after mentioning the webhook, as plain text."""
    text = str(activity.get("text") or "")
    return html.unescape(_TAG.sub(" ", _MENTION.sub(" ", text))).replace("\xa0", " ").strip()


def sender(activity: Mapping[str, Any]) -> tuple[str, str]:
    """(identity, display name) of the person: their Entra object id, else Teams id."""
    who = activity.get("from")
    who = who if isinstance(who, dict) else {}
    aad, teams_id = str(who.get("aadObjectId") or ""), str(who.get("id") or "")
    identity = f"aad:{aad}" if aad else (f"teams:{teams_id}" if teams_id else "")
    return identity, str(who.get("name") or teams_id or "someone")


def owner(workspace: ChatWorkspace, name: str) -> uuid.UUID:
    return uuid.uuid5(workspace.id, name)


async def caller(
    session: AsyncSession, workspace: ChatWorkspace, activity: Mapping[str, Any]
) -> Caller:
    """Who the Teams person is in Loom, if they linked themselves."""
    identity, name = sender(activity)
    note = f"from Teams by {name}"
    refusal = (f"Sorry {name}, Loom does not know you yet, so nothing was done. Ask Loom "
               "for a link code (portal, or `POST /api/v1/notify/chat-workspaces/teams/"
               f"{workspace.workspace_id}/link-codes`), then say `{PREFIX} link <code>` "
               "here.")  # fmt: skip
    linked = await session.scalar(
        select(ChatMember.user_id).where(
            ChatMember.workspace_id == workspace.id, ChatMember.remote_user_id == identity
        )
    ) if identity else None  # fmt: skip
    user = await _active_user(session, workspace, str(linked or ""))
    if user is None:
        return Caller(workspace, None, note, refusal, PREFIX)
    principal = await load_principal(session, user.id, scopes=frozenset({"read", "write"}))
    return Caller(workspace, principal, note, refusal, PREFIX)


async def _active_user(
    session: AsyncSession, workspace: ChatWorkspace, user_id: str
) -> User | None:
    try:
        uid = uuid.UUID(user_id)
    except ValueError:
        return None
    return await session.scalar(
        select(User).where(User.id == uid, User.org_id == workspace.org_id,
                           User.is_active.is_(True))
    )  # fmt: skip


async def run(
    session: AsyncSession, key: bytes, who: Caller, activity: Mapping[str, Any], now: datetime
) -> str:
    """The reply to a message: `link <code>` here, every other command as in any chat."""
    words = command_text(activity).split()
    if words and words[0].lower() == "link":
        return await _link(session, key, who, activity, words[1:], now)
    if not words or words[0].lower() == "help":
        return chatops.help_text(PREFIX) + f" New here? `{PREFIX} link <code>`."
    return await chatops.run_command(session, who, " ".join(words))


async def _link(
    session: AsyncSession, key: bytes, who: Caller, activity: Mapping[str, Any],
    args: list[str], now: datetime,
) -> str:  # fmt: skip
    identity, name = sender(activity)
    refused = (f"Sorry {name}, that code is unknown, used or expired. Nothing was linked; "
               "ask Loom for a new one.")  # fmt: skip
    if not args or not identity or len(identity) > MAX_IDENTITY:
        return refused
    workspace = who.workspace
    code_owner = owner(workspace, f"code:{args[0].upper()}")
    code = await secrets.reveal(session, key, owner_type=CODE_OWNER, owner_id=code_owner)
    await secrets.forget(session, owner_type=CODE_OWNER, owner_id=code_owner)  # single use
    expires = _timestamp(code.get("expires_at"))
    user = await _active_user(session, workspace, code.get("user_id", ""))
    if user is None or expires is None or expires < now:
        return refused
    member = await session.scalar(
        select(ChatMember).where(
            ChatMember.workspace_id == workspace.id, ChatMember.remote_user_id == identity
        )
    )
    before = {"user_id": str(member.user_id)} if member is not None else None
    if member is None:  # else the person links again, perhaps as someone else now
        member = ChatMember(org_id=workspace.org_id, workspace_id=workspace.id,
                            remote_user_id=identity)  # fmt: skip
        session.add(member)
    member.user_id, member.display_name = user.id, name[:200]
    await session.flush()
    principal = await load_principal(session, user.id, scopes=frozenset({"read", "write"}))
    await audit.record(
        session, org_id=workspace.org_id, actor=principal, action="chat_member.link",
        target_type="chat_member", target_id=member.id, before=before,
        after={"provider": PROVIDER, "workspace": workspace.workspace_id,
               "chat_user": identity, "chat_name": name, "user_id": str(user.id)},
    )  # fmt: skip
    return f"Hello {name}: Loom now knows you as {user.email} here."


def answer(text: str) -> dict[str, Any]:
    """The reply activity Teams shows in the thread (markdown: a line break is a
    paragraph)."""
    return {"type": "message", "text": text.replace("\n", "\n\n")}
