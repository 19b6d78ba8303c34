"""Who acts, and an audit entry as recorded before it joins its organisation's chain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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


def unchained_entry(
    *,
    org_id: uuid.UUID,
    actor: Actor | Principal,
    action: str,
    target_type: str,
    target_id: Any,
    team_id: uuid.UUID | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    """An entry with every recorded field set (secrets masked, the current correlation
    id) but no place in the chain yet: its seq, prev_hash and hash are set on appending."""
    if isinstance(actor, Principal):
        actor = Actor.of(actor)
    return AuditEntry(
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
