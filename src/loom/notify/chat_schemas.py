"""What the ChatOps setup endpoints take and answer: Teams outgoing webhooks, their
security tokens, the one-time codes that link a Teams person to their Loom user, and
those links."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


def _teams_token(value: str) -> str:
    """A security token as Teams shows it: base64 of at least 16 bytes (it keys the HMAC)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) < 16:
        raise ValueError("not a Teams security token (base64 of at least 16 bytes)")
    return value


TeamsSecurityToken = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_teams_token),
]  # fmt: skip


class TeamsWebhookCreate(BaseModel):
    """A Teams outgoing webhook; the security token may come later (`TeamsTokenUpdate`),
    since Teams shows it only once it has the callback URL."""

    model_config = ConfigDict(extra="forbid")

    security_token: TeamsSecurityToken | None = None


class TeamsTokenUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    security_token: TeamsSecurityToken


class TeamsWebhook(BaseModel):
    workspace_id: str
    #: The callback URL to paste into Teams.
    endpoint_url: str
    secrets: dict[str, str]


class ChatLinkCode(BaseModel):
    code: str
    expires_at: datetime
    #: What to say in the Teams channel.
    say: str


class ChatMember(BaseModel):
    """A Teams person linked to a Loom user through one outgoing webhook."""

    id: uuid.UUID
    #: The Loom user's e-mail.
    user: str
    #: Who they are in Teams: "aad:<Entra object id>", else "teams:<Teams id>".
    remote_user_id: str
    #: Their Teams name when they linked.
    display_name: str
    created_at: datetime
