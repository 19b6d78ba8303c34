"""Delivering notifications: each (message, channel) is a message on the `notifications`
queue, never sent inside an API request. One attempt = one call of the channel's sender
and one `Notification` log row. A transient failure queues the next attempt after a
back-off (the remote's Retry-After when it gave one), a permanent failure or the last
attempt marks the delivery dead, for a person to look at. A failing channel never holds
up the others: each channel and incident is its own message group.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import structlog
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from loom.notify import registry
from loom.notify.channels.base import DeliveryFailure, Outcome, Target, TransientFailure
from loom.notify.kinds import AttemptStatus, ChannelKind
from loom.notify.message import (
    IncidentMessage,
    Message,
    NotifyEvent,
    RelatedChange,
    RequestMessage,
)
from loom.notify.models import Channel, Notification
from loom.platform.http import HttpClients
from loom.platform.http.allowlist import HostPolicy
from loom.platform.http.errors import HostNotAllowed
from loom.queue.protocol import Queue
from loom.secrets import service as secrets

log = structlog.get_logger("loom.notify")

NOTIFY_QUEUE = "notifications"
SECRET_OWNER = "notify_channel"  # noqa: S105 - the owner type of its secrets


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Attempts and the waits between them: `base` * 2^(attempt-1), at most `cap`."""

    attempts: int = 6
    base: float = 2.0
    cap: float = 300.0

    def wait(self, attempt: int, asked: float | None) -> float:
        """Seconds before attempt `attempt + 1`; at least what the remote asked for."""
        mine: float = min(self.cap, self.base * 2.0 ** (attempt - 1))
        return min(self.cap, max(mine, asked or 0.0))


@dataclasses.dataclass(frozen=True)
class Recipient:
    """One person reached through a channel (a Slack bot's DM, one mailbox): `address`
    replaces the channel's destination for that delivery."""

    #: A Slack member id ("U0123ABC") or an e-mail address.
    address: str
    #: Who it is, for the log (their e-mail).
    person: str

    def describe(self, kind: str) -> str:
        """The log's target: "alice@example.com via slack DM U0123ABC"."""
        how = "slack DM" if kind == ChannelKind.SLACK else kind
        return f"{self.person} via {how} {self.address}"[:500]


# ------------------------------------------------------------------ queue messages


def message_body(message: Message) -> dict[str, Any]:
    """The message as JSON, tagged with its type (an untagged body is an incident's: the
    messages queued before requests had theirs)."""
    body = dataclasses.asdict(message)
    body["at"] = message.at.isoformat()
    if isinstance(message, RequestMessage):
        body["type"] = "request"
        return body
    body["type"] = "incident"
    body["opened_at"] = message.opened_at.isoformat()
    body["services"] = list(message.services)
    return body


def message_from(body: dict[str, Any]) -> Message:
    fields = dict(body)
    kind = fields.pop("type", "incident")
    fields["event"] = NotifyEvent(fields["event"])
    fields["at"] = datetime.fromisoformat(fields["at"])
    if kind == "request":
        return RequestMessage(**fields)
    fields["opened_at"] = datetime.fromisoformat(fields["opened_at"])
    fields["services"] = tuple(fields.get("services", ()))
    change = fields.get("related_change")
    fields["related_change"] = RelatedChange(**change) if change else None
    return IncidentMessage(**fields)


def _subject(message: Message) -> str:
    """What the message is about, as its queue group names it."""
    if isinstance(message, RequestMessage):
        return f"request:{message.request_id}"
    return message.incident_id


async def enqueue(
    queue: Queue,
    channel: Channel,
    message: Message,
    *,
    session: AsyncSession | None = None,
    delivery_id: uuid.UUID | None = None,
    attempt: int = 1,
    delay: float = 0.0,
    held: int = 0,
    recipient: Recipient | None = None,
) -> uuid.UUID | None:
    """Queue an attempt to deliver `message` to `channel` (in the caller's transaction
    when `session` is given, on backends that can), or through it to one `recipient`.
    Returns the delivery id, or None when the queue had seen this very attempt in the
    last minutes (and dropped it)."""
    delivery = delivery_id or uuid.uuid4()
    body: dict[str, Any] = {
        "delivery_id": str(delivery),
        "channel_id": str(channel.id),
        "org_id": str(channel.org_id),
        "attempt": attempt,
        "held": held,
        "message": message_body(message),
    }
    # One group per channel and subject: an incident's messages on a channel keep their
    # order (opened before resolved), and a channel that fails holds up no other. A
    # person paged through it is a group of their own: one mailbox's retries never delay
    # the page of the next person.
    group = f"{channel.id}:{_subject(message)}"
    if recipient is not None:
        body["recipient"] = dataclasses.asdict(recipient)
        group += f":{recipient.address}"
    sent = await queue.send(
        group, body, dedup_id=f"{delivery}:{attempt}:{held}", delay_seconds=delay,
        session=session,
    )  # fmt: skip
    return delivery if sent is not None else None


# ------------------------------------------------------------------ one attempt


async def attempt(
    session: AsyncSession,
    queue: Queue,
    clients: HttpClients,
    key: bytes,
    body: dict[str, Any],
    *,
    backoff: Backoff = Backoff(),
    extra_hosts: tuple[str, ...] = (),
    rebuild: Callable[[IncidentMessage], Awaitable[IncidentMessage]] | None = None,
) -> Notification | None:
    """Make the attempt `body` describes (a queue message of `enqueue`): send, log it,
    and queue the next attempt after a transient failure. The caller commits.

    `rebuild`: gives an update ("incident.updated") the incident's counts of now.
    `extra_hosts`: hosts reachable besides `allowed_hosts` and the kind's well-known ones
    (the demo's fakes).

    None: not attempted, because an earlier message about the same incident to the same
    channel waits for its retry; this one goes back to the queue behind it (a resolve
    must not reach PagerDuty before the trigger it resolves)."""
    message = message_from(body["message"])
    number = int(body["attempt"])
    delivery_id = uuid.UUID(body["delivery_id"])
    channel = await session.get(Channel, uuid.UUID(body["channel_id"]))
    incident_id = _incident_id(message)
    recipient = Recipient(**body["recipient"]) if body.get("recipient") else None
    where = _where(channel, recipient)
    if channel is not None and await _behind_a_retry(
        session, channel.id, incident_id, delivery_id, where
    ):
        await enqueue(
            queue, channel, message, session=session, delivery_id=delivery_id, attempt=number,
            held=int(body.get("held", 0)) + 1, recipient=recipient,
        )  # fmt: skip
        return None
    row = Notification(
        org_id=uuid.UUID(body["org_id"]), delivery_id=delivery_id, attempt=number,
        channel_id=channel.id if channel else None,
        channel_name=channel.name if channel else "(deleted)",
        channel_kind=channel.kind if channel else "",
        incident_id=incident_id, event=message.event.value, event_at=message.at,
        status=AttemptStatus.DEAD.value,
    )  # fmt: skip
    session.add(row)
    if channel is None or not channel.enabled:
        row.error = "the channel was deleted" if channel is None else "the channel is disabled"
        return row
    kind = registry.kind(channel.kind)
    row.target = where
    target = Target(
        kind=channel.kind, config=channel.config,
        secrets=await secrets.reveal(session, key, owner_type=SECRET_OWNER, owner_id=channel.id),
        previous=await _previous_ref(session, channel.id, row.incident_id, where),
        recipient=recipient.address if recipient else None,
    )  # fmt: skip
    if (
        rebuild is not None
        and isinstance(message, IncidentMessage)
        and message.event is NotifyEvent.UPDATED
    ):
        message = await rebuild(message)
    started = time.perf_counter()
    try:
        if channel.kind == ChannelKind.EMAIL:
            _check_smtp_host(clients, channel.config)
        http = clients.client(f"notify:{channel.kind}", extra_hosts=(*kind.hosts, *extra_hosts))
        outcome = await kind.sender.send(target, message, http=http)
    except TransientFailure as failure:
        _failed(row, failure, started)
        if number < backoff.attempts:
            row.status = AttemptStatus.RETRYING.value
            wait = backoff.wait(number, failure.retry_after)
            await enqueue(
                queue, channel, message, session=session, delivery_id=delivery_id,
                attempt=number + 1, delay=wait, recipient=recipient,
            )  # fmt: skip
        return row
    except DeliveryFailure as failure:
        _failed(row, failure, started)
        return row
    except HostNotAllowed:
        _failed(row, DeliveryFailure("the SMTP host is not in allowed_hosts"), started)
        return row
    except Exception as error:  # a bug in a sender must not take the consumer down
        log.exception("notification sender failed", channel=channel.name, kind=channel.kind)
        _failed(row, DeliveryFailure(f"internal error ({type(error).__name__})"), started)
        return row
    _sent(row, outcome, started)
    return row


async def _behind_a_retry(
    session: AsyncSession,
    channel_id: uuid.UUID,
    incident_id: uuid.UUID | None,
    delivery_id: uuid.UUID,
    where: str,
) -> bool:
    """Whether another delivery about the incident to the channel's same target (`where`:
    the channel's destination, or one person) waits for a retry: its latest attempt
    failed for now and no later attempt is logged."""
    if incident_id is None:
        return False
    later = aliased(Notification)
    waiting = await session.scalar(
        select(Notification.id)
        .where(
            Notification.channel_id == channel_id,
            Notification.incident_id == incident_id,
            Notification.target == where,
            Notification.delivery_id != delivery_id,
            Notification.status == AttemptStatus.RETRYING.value,
            ~exists().where(
                later.delivery_id == Notification.delivery_id,
                later.attempt > Notification.attempt,
            ),
        )
        .limit(1)
    )
    return waiting is not None


def _check_smtp_host(clients: HttpClients, config: dict[str, Any]) -> None:
    """Mail goes out through the same allow-list as every outgoing call (HostNotAllowed
    otherwise): the SMTP server must be in `allowed_hosts`."""
    host = str(config.get("host", ""))
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    # The policy reads URLs; the scheme is only a carrier for the host here.
    HostPolicy(clients.allowed_hosts).check(httpx.URL(f"https://{host}/"))


def _incident_id(message: Message) -> uuid.UUID | None:
    if isinstance(message, RequestMessage):
        return None  # not an incident's: no ordering or threading by incident
    try:
        return uuid.UUID(message.incident_id)
    except ValueError:
        return None  # a test message


def _where(channel: Channel | None, recipient: Recipient | None) -> str:
    """The log's target: the channel's destination, or the person paged through it."""
    if channel is None:
        return ""
    if recipient is not None:
        return recipient.describe(channel.kind)
    return registry.kind(channel.kind).describe(channel.config)


async def _previous_ref(
    session: AsyncSession, channel_id: uuid.UUID, incident_id: uuid.UUID | None, where: str
) -> str | None:
    """What the first message about this incident on this channel to the same target
    (`where`) returned, so updates go to the same remote message (Slack) or thread
    (e-mail); a person's page never edits the channel's shared message."""
    if incident_id is None:
        return None
    found = await session.scalar(
        select(Notification.remote_ref)
        .where(
            Notification.channel_id == channel_id,
            Notification.incident_id == incident_id,
            Notification.target == where,
            Notification.status == AttemptStatus.SENT.value,
            Notification.remote_ref.is_not(None),
        )
        .order_by(Notification.created_at)
        .limit(1)
    )
    return found


def _sent(row: Notification, outcome: Outcome, started: float) -> None:
    row.status = AttemptStatus.SENT.value
    row.remote_ref = outcome.remote_ref
    row.http_status = outcome.http_status
    row.response = outcome.response
    row.latency_ms = round((time.perf_counter() - started) * 1000)


def _failed(row: Notification, failure: DeliveryFailure, started: float) -> None:
    row.http_status = failure.http_status
    row.response = failure.response
    row.error = str(failure)
    row.latency_ms = round((time.perf_counter() - started) * 1000)
