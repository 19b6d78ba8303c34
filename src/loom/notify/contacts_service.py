"""Contact methods: how a person is paged by an escalation (an e-mail through an e-mail
channel, a Slack DM through a Slack channel in bot mode). Everyone manages their own;
an organisation admin anyone's."""

from __future__ import annotations

import re
import uuid

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.models import User
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.errors import Conflict, InvalidInput, NotFound
from loom.notify import channels_service, schemas
from loom.notify.channels.email import Address
from loom.notify.kinds import ChannelKind
from loom.notify.models import Channel, ContactMethod

#: A Slack member id: "U0123ABC" (or "W..." on Enterprise Grid).
_MEMBER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_EMAIL = TypeAdapter(Address)


async def whose(
    session: AsyncSession, principal: Principal, user: str | None, *, write: bool = False
) -> uuid.UUID:
    """The user whose contact methods are meant: the caller's, or (organisation admins
    only) those of `user`, an e-mail. `write`: to change them (a read-only token may
    not)."""
    if user is None or user == principal.email:
        if write:
            principal.require_scope("write")
        return principal.user_id
    principal.require_org_role(Role.ADMIN)
    found = await session.scalar(
        select(User.id).where(User.org_id == principal.org_id, User.email == user)
    )
    if found is None:
        raise InvalidInput.on("user", f"no user '{user}' in this organisation")
    return found


def list_query(principal: Principal, user_id: uuid.UUID) -> Select[ContactMethod]:
    return select(ContactMethod).where(
        ContactMethod.org_id == principal.org_id, ContactMethod.user_id == user_id
    )


async def create(
    session: AsyncSession, principal: Principal, body: schemas.ContactMethodIn
) -> ContactMethod:
    user_id = await whose(session, principal, body.user, write=True)
    channel = await _carrier(session, principal, body.kind, body.channel)
    address = _checked_address(body.kind, body.address)
    taken = await session.scalar(
        select(ContactMethod.id).where(
            ContactMethod.user_id == user_id, ContactMethod.kind == body.kind,
            ContactMethod.address == address,
        )
    )  # fmt: skip
    if taken is not None:
        raise Conflict(f"this {body.kind} contact method exists ({address})")
    method = ContactMethod(
        org_id=principal.org_id, user_id=user_id, kind=body.kind, address=address,
        channel_id=channel.id, position=body.position,
    )  # fmt: skip
    session.add(method)
    await session.flush()
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_contact_method.create",
        target_type="notify_contact_method", target_id=method.id,
        after={"user_id": str(user_id), "kind": body.kind, "address": address,
               "channel": channel.name},
    )  # fmt: skip
    return method


async def delete(session: AsyncSession, principal: Principal, method_id: uuid.UUID) -> None:
    method = await session.scalar(
        select(ContactMethod).where(
            ContactMethod.org_id == principal.org_id, ContactMethod.id == method_id
        )
    )
    if method is None:
        raise NotFound(f"contact method '{method_id}' not found")
    if method.user_id != principal.user_id:
        principal.require_org_role(Role.ADMIN)
    principal.require_scope("write")
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_contact_method.delete",
        target_type="notify_contact_method", target_id=method.id,
        before={"user_id": str(method.user_id), "kind": method.kind, "address": method.address},
    )  # fmt: skip
    await session.delete(method)


async def _carrier(session: AsyncSession, principal: Principal, kind: str, ref: str) -> Channel:
    """The channel (name or id, one the caller sees) that can carry a `kind` contact
    method: an e-mail channel, or a Slack channel in bot mode (a webhook cannot DM)."""
    stmt = channels_service.list_query(principal)
    try:
        found = await session.scalar(stmt.where(Channel.id == uuid.UUID(ref)))
    except ValueError:
        found = await session.scalar(stmt.where(Channel.name == ref))
    if found is None:
        raise InvalidInput.on("channel", f"no channel '{ref}' in this organisation")
    if kind == "email" and found.kind != ChannelKind.EMAIL:
        raise InvalidInput.on("channel", f"'{ref}' is a {found.kind} channel, not an e-mail one")
    if kind == "slack" and (found.kind != ChannelKind.SLACK or found.config.get("mode") != "bot"):
        raise InvalidInput.on("channel", f"'{ref}' is not a Slack channel in bot mode")
    return found


def _checked_address(kind: str, address: str) -> str:
    address = address.strip()
    if kind == "slack":
        if not _MEMBER_ID.fullmatch(address):
            raise InvalidInput.on("address", "not a Slack member id (like U0123ABC)")
        return address
    try:
        return str(_EMAIL.validate_python(address))
    except ValidationError:
        raise InvalidInput.on("address", "not an e-mail address") from None
