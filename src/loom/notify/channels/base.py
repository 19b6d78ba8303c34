"""What every channel sender implements, and how it reports the outcome of one attempt.

A sender renders a message (an `IncidentMessage` or a `RequestMessage`) in its system's
format and sends it once. It never retries and never sleeps: it says whether a failure
is worth retrying (`TransientFailure`, with the wait the remote asked for, if any) or not
(`PermanentFailure`), and the delivery loop decides (`loom.notify.delivery`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import httpx

from loom.notify.message import Message
from loom.platform.http.errors import CircuitOpen, HostNotAllowed, OutboundRefused

#: The longest remote answer kept in the notification log.
EXCERPT = 500


@dataclass(frozen=True)
class Target:
    """A configured channel, as a sender sees it."""

    kind: str
    #: Non-secret settings of the channel (URLs without credentials, channel names,
    #: routing options), validated by the sender's `Config` model.
    config: Mapping[str, Any]
    #: Secret settings (tokens, webhook URLs with credentials, SMTP passwords, HMAC
    #: secrets), decrypted for this attempt only.
    secrets: Mapping[str, str] = field(default_factory=dict)
    #: What an earlier message about the same incident on this channel returned
    #: (`Outcome.remote_ref`): Slack's message `ts` to update in place, say.
    previous: str | None = None
    #: One person's address that replaces the channel's destination for this attempt (a
    #: Slack member id to DM, one e-mail address): an escalation paging someone.
    recipient: str | None = None


@dataclass(frozen=True)
class Outcome:
    """A successful attempt."""

    #: What identifies the message remotely, for later updates (Slack `ts`, PagerDuty
    #: `dedup_key`, an SMTP message id), if anything.
    remote_ref: str | None = None
    http_status: int | None = None
    #: The remote answer, cut to `EXCERPT` characters, secrets never included.
    response: str = ""


class DeliveryFailure(Exception):
    def __init__(self, message: str, *, http_status: int | None = None, response: str = "") -> None:
        super().__init__(message)
        self.http_status = http_status
        self.response = response[:EXCERPT]


class TransientFailure(DeliveryFailure):
    """Worth retrying: a timeout, a refused connection, 429, 5xx."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        response: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, response=response)
        #: Seconds the remote asked to wait (Retry-After), if it said.
        self.retry_after = retry_after


class PermanentFailure(DeliveryFailure):
    """Retrying would fail again: bad credentials, a rejected payload, a bad setting."""


class Sender(Protocol):
    kind: ClassVar[str]

    async def send(self, target: Target, message: Message, *, http: httpx.AsyncClient) -> Outcome:
        """Send `message` once; raise TransientFailure or PermanentFailure."""
        ...


async def request(
    http: httpx.AsyncClient, what: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """One call, refusals and transport errors turned into delivery failures: a host not
    allowed, a bad URL are permanent; an open circuit (with its wait), a timeout, a
    refused connection are transient. The text names the error's kind, never the URL
    (it may carry a secret)."""
    try:
        return await http.request(method, url, **kwargs)
    except HostNotAllowed as exc:
        raise PermanentFailure(f"{what}: {exc}") from None
    except CircuitOpen as exc:
        raise TransientFailure(f"{what}: {exc}", retry_after=exc.retry_after) from None
    except OutboundRefused as exc:
        raise PermanentFailure(f"{what}: {exc}") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        raise PermanentFailure(f"{what}: not a usable http(s) URL") from None
    except httpx.TransportError as exc:
        raise TransientFailure(f"{what}: {type(exc).__name__}") from None


def excerpt(response: httpx.Response) -> str:
    return response.text[:EXCERPT]


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (a number of seconds; an HTTP date is read as 'soon')."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


def check(response: httpx.Response, what: str) -> None:
    """Raise the failure a non-2xx answer means: 408, 425, 429 and 5xx are transient,
    any other 4xx permanent."""
    if response.is_success:
        return
    status = response.status_code
    text = f"{what}: HTTP {status}"
    if status in (408, 425, 429) or status >= 500:
        raise TransientFailure(
            text, http_status=status, response=excerpt(response), retry_after=retry_after(response)
        )
    raise PermanentFailure(text, http_status=status, response=excerpt(response))
