"""Who acts, and an audit entry's fields as recorded, before it joins its organisation's
chain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from loom.api.correlation import correlation_id
from loom.audit.masking import mask_secrets
from loom.audit.models import AuditEntry
from loom.auth.principal import Principal
from loom.db.types import utcnow


@dataclass(frozen=True)
class Actor:
    type: str
    id: uuid.UUID | None
    name: str

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls("user", principal.user_id, principal.email)

    @classmethod
    def system(cls, name: str = "loom") -> Actor:
        return cls("system", None, name)


@dataclass(frozen=True)
class Draft:
    """An entry's recorded fields (secrets masked), before it joins its organisation's
    chain: its seq, prev_hash and hash are set on appending. A plain object: the hot
    paths hash and send it without building an ORM entry."""

    org_id: uuid.UUID
    created_at: datetime
    actor_type: str
    actor_id: uuid.UUID | None
    actor_name: str
    action: str
    target_type: str
    target_id: str
    team_id: uuid.UUID | None
    correlation_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, entry: AuditEntry) -> Draft:
        return cls(**{f.name: getattr(entry, f.name) for f in fields(cls)})

    def entry(self) -> AuditEntry:
        """An ORM entry with these fields (not yet chained)."""
        return AuditEntry(**{f.name: getattr(self, f.name) for f in fields(self)})


def draft(
    *,
    org_id: uuid.UUID,
    actor: Actor | Principal,
    action: str,
    target_type: str,
    target_id: Any,
    team_id: uuid.UUID | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> Draft:
    """The entry `service.record` is asked for, stamped now with the current correlation
    id."""
    if isinstance(actor, Principal):
        actor = Actor.of(actor)
    return Draft(
        org_id=org_id,
        created_at=utcnow(),
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        team_id=team_id,
        correlation_id=correlation_id(),
        before=mask_secrets(before) if before is not None else None,
        after=mask_secrets(after) if after is not None else None,
    )
