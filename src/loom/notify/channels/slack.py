"""The Slack channel (kind "slack"): an incident (or a request's event) as a Block Kit
message, through an incoming webhook or a bot token.

* `mode="webhook"`: POST `{"text", "blocks"}` to the webhook URL (a secret: the URL is
  the credential). Slack answers 200 "ok" or an error string with a 4xx/5xx status;
  there is no message id, so later events post new messages.
* `mode="bot"`: `chat.postMessage` with `Authorization: Bearer xoxb-...`. Slack answers
  HTTP 200 even for most errors, `{"ok": false, "error": "..."}`, so the `error` decides
  transient or permanent. The returned channel id and `ts` become the remote ref
  ("C0123:1700000000.000100"); a later event of the same incident updates that message
  in place with `chat.update` (so "acknowledged" and "resolved" show on one message).
  If the message can no longer be edited (deleted, edit window closed), a new one is
  posted instead.
* A `Target.recipient` (a Slack member id, "U0123ABC"; bot mode only) is a page to one
  person: `chat.postMessage` with `channel=<member id>` posts in the bot's DM with them,
  always as a new message (an edit would not notify them again).

Wire format: https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks,
https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks,
https://docs.slack.dev/reference/methods/chat.postMessage,
https://docs.slack.dev/reference/methods/chat.update,
https://docs.slack.dev/apis/web-api/rate-limits (429 with Retry-After, error "ratelimited").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, NoReturn

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loom.notify.channels.base import (
    DeliveryFailure,
    Outcome,
    PermanentFailure,
    Target,
    TransientFailure,
    excerpt,
    request,
    retry_after,
)
from loom.notify.channels.slack_blocks import render
from loom.notify.message import Message

#: Secret settings: the incoming webhook's URL (mode "webhook") or the bot token
#: (mode "bot").
SECRET_FIELDS = ("webhook_url", "bot_token")

#: Web API errors worth retrying; any other `error` is permanent (invalid_auth,
#: not_authed, channel_not_found, is_archived, invalid_blocks, ...).
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
#: chat.update errors after which a new message is posted instead.
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


class Config(BaseModel):
    """Non-secret settings of a Slack channel."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["webhook", "bot"] = "webhook"
    #: Where the bot posts: a channel id ("C0123ABC") or name ("#incidents").
    channel: str | None = Field(default=None, min_length=1, max_length=200)
    #: The Web API's base URL (a test points it at a fake).
    api_base: str = "https://slack.com/api"

    @model_validator(mode="after")
    def _bot_needs_channel(self) -> Config:
        if self.mode == "bot" and not self.channel:
            raise ValueError("a bot-token Slack channel needs `channel`")
        return self


class SlackRefused(PermanentFailure):
    """A Web API `{"ok": false}` answer that retrying will not change."""

    def __init__(self, error: str, message: str, *, http_status: int, response: str) -> None:
        super().__init__(message, http_status=http_status, response=response)
        #: Slack's error code: "invalid_auth", "channel_not_found"...
        self.error = error


class SlackSender:
    """Sends one message to Slack; see the module docstring."""

    kind: ClassVar[str] = "slack"

    async def send(self, target: Target, message: Message, *, http: httpx.AsyncClient) -> Outcome:
        try:
            config = Config.model_validate(dict(target.config))
        except ValidationError as exc:
            raise PermanentFailure(f"slack: bad settings: {_errors(exc)}") from None
        payload = {"text": message.headline(), "blocks": render(message)}
        secrets = [value for value in target.secrets.values() if value]
        try:
            if config.mode == "webhook":
                if target.recipient:
                    raise PermanentFailure("slack: only a bot-token channel can DM a person")
                return await _webhook(_secret(target, "webhook_url"), payload, http)
            if target.recipient:
                # A person's page (a DM: chat.postMessage to their member id) is posted
                # anew each time: an edited message would not notify them again.
                dm = config.model_copy(update={"channel": target.recipient})
                return await _bot(dm, _secret(target, "bot_token"), None, payload, http)
            return await _bot(config, _secret(target, "bot_token"), target.previous, payload, http)
        except DeliveryFailure as failure:
            raise _scrubbed(failure, secrets) from None


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'config'}: {error['msg']}"
        for error in exc.errors()
    )


def _secret(target: Target, name: str) -> str:
    value = target.secrets.get(name)
    if not value:
        raise PermanentFailure(f"slack: the secret `{name}` is not set")
    return value


async def _webhook(url: str, payload: dict[str, Any], http: httpx.AsyncClient) -> Outcome:
    what = "slack webhook"
    response = await _post(http, what, url, payload, {})
    body = response.text.strip()
    if response.is_success:
        return Outcome(http_status=response.status_code, response=excerpt(response))
    _raise_for_status(response, f"{what}: HTTP {response.status_code} {body[:100]}".rstrip())


async def _bot(
    config: Config,
    token: str,
    previous: str | None,
    payload: dict[str, Any],
    http: httpx.AsyncClient,
) -> Outcome:
    headers = {"Authorization": f"Bearer {token}"}
    base = config.api_base.rstrip("/")
    channel, _, ts = (previous or "").partition(":")
    if channel and ts:
        try:
            update = {"channel": channel, "ts": ts, **payload}
            return await _call(http, f"{base}/chat.update", "chat.update", update, headers)
        except SlackRefused as refused:
            if refused.error not in GONE_ERRORS:
                raise
    post = {"channel": config.channel, **payload}
    return await _call(http, f"{base}/chat.postMessage", "chat.postMessage", post, headers)


async def _call(
    http: httpx.AsyncClient,
    url: str,
    method: str,
    body: dict[str, Any],
    headers: Mapping[str, str],
) -> Outcome:
    """One Web API call; the Outcome's remote ref is "<channel id>:<ts>"."""
    what = f"slack {method}"
    response = await _post(http, what, url, body, headers)
    if not response.is_success:
        _raise_for_status(response, f"{what}: HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "ok" not in answer:
        # Not Slack speaking (a proxy's page): say so and let the loop try again.
        raise TransientFailure(
            f"{what}: unexpected answer", http_status=response.status_code, response=response.text
        )
    if not answer["ok"]:
        error = str(answer.get("error") or "unknown_error")
        text = f"{what}: {error}"
        if error in TRANSIENT_ERRORS:
            raise TransientFailure(
                text,
                http_status=response.status_code,
                response=response.text,
                retry_after=retry_after(response),
            )
        raise SlackRefused(error, text, http_status=response.status_code, response=response.text)
    ref = f"{answer.get('channel', '')}:{answer.get('ts', '')}"
    return Outcome(remote_ref=ref, http_status=response.status_code, response=excerpt(response))


async def _post(
    http: httpx.AsyncClient,
    what: str,
    url: str,
    body: dict[str, Any],
    headers: Mapping[str, str],
) -> httpx.Response:
    # Slack asks for the charset on JSON bodies (else a `missing_charset` warning).
    content = json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json; charset=utf-8", **headers}
    return await request(http, what, "POST", url, content=content, headers=all_headers)


def _raise_for_status(response: httpx.Response, text: str) -> NoReturn:
    """408, 425, 429 and 5xx are transient, any other non-2xx permanent."""
    status = response.status_code
    if status in (408, 425, 429) or status >= 500:
        raise TransientFailure(
            text, http_status=status, response=response.text, retry_after=retry_after(response)
        )
    raise PermanentFailure(text, http_status=status, response=response.text)


def _scrubbed(failure: DeliveryFailure, secrets: list[str]) -> DeliveryFailure:
    """`failure` with every secret value blanked out of its text and response (an
    error echoing the URL it was given would otherwise leak a webhook's credential)."""

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    message, response = scrub(str(failure)), scrub(failure.response)
    if isinstance(failure, TransientFailure):
        return TransientFailure(
            message,
            http_status=failure.http_status,
            response=response,
            retry_after=failure.retry_after,
        )
    return PermanentFailure(message, http_status=failure.http_status, response=response)
