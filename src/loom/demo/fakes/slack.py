"""A stateful fake Slack on a real local HTTP server: incoming webhooks and the Web API's
`chat.postMessage` / `chat.update`, answering with Slack's shapes and status codes.

* `POST /services/<path>` (an incoming webhook): 200 "ok"; 400 "invalid_payload" when the
  body is not JSON, has neither `text` nor `blocks`, or has malformed blocks; 404
  "no_service" for a path no webhook has.
* `POST /api/chat.postMessage` and `/api/chat.update` (JSON, or form-encoded with
  `blocks` as a JSON string): HTTP 200 with `{"ok": true, "channel", "ts", "message"}`
  or `{"ok": false, "error"}`: `not_authed` / `invalid_auth` (the bearer token, or a
  `token` form field), `channel_not_found` (chat.update takes only channel ids, as on
  Slack), `is_archived`, `no_text`, `invalid_blocks`, `message_not_found`. A member id
  of `users` as the channel posts in the bot's DM with them (`dm_id`).
* Faults: `rate_limit(times, retry_after)` answers 429 with Retry-After and
  `{"ok": false, "error": "ratelimited"}`; `fail(status, times, error)` answers a status
  (500...) with an error body.

Blocks are checked minimally but strictly (`block_problem`): block types header,
section, context, actions and divider with only their known keys; text objects; the
header's plain_text at most 150 characters; buttons with plain_text text and an
action_id, and only url / value / style besides.

    with FakeSlack() as slack:
        webhook_url = slack.webhook_url            # posts to #incidents
        ... bot token slack.token, Config(api_base=slack.api_base, channel="#incidents")
        slack.messages("#incidents")               # what the channel shows now

Demo fake, not for production: a stand-in for the tests and for the demo that `make serve`
starts (see loom.demo). It keeps everything in memory and checks credentials only as far
as the wire format needs.

Wire format: https://docs.slack.dev/reference/methods/chat.postMessage,
https://docs.slack.dev/reference/methods/chat.update,
https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks,
https://docs.slack.dev/apis/web-api/rate-limits, https://docs.slack.dev/reference/block-kit.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from loom.demo.fakes.server import FakeServer, RecordedCall, Reply

_TEXT_TYPES = {"plain_text", "mrkdwn"}
_BLOCK_KEYS = {
    "header": {"type", "text", "block_id"},
    "section": {"type", "text", "fields", "block_id", "accessory"},
    "context": {"type", "elements", "block_id"},
    "actions": {"type", "elements", "block_id"},
    "divider": {"type", "block_id"},
}
_BUTTON_KEYS = {"type", "text", "action_id", "url", "value", "style"}


@dataclass
class SlackMessage:
    """A message as the channel shows it now."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    edits: int = 0
    #: "bot" or the webhook's path.
    via: str = "bot"


@dataclass
class _Fault:
    status: int
    times: int
    error: str
    retry_after: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


class FakeSlack(FakeServer):
    """See the module docstring."""

    def __init__(
        self,
        *,
        token: str = "xoxb-1111-2222-fakeSlackBotToken",  # noqa: S107 - a fake's credential
        channels: dict[str, str] | None = None,
        archived: tuple[str, ...] = (),
        webhooks: dict[str, str] | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        #: Channel id → name.
        self.channels = channels or {"C0INCIDENT": "incidents", "C0GENERAL": "general"}
        self.archived = set(archived)
        #: Webhook path (after /services/) → channel id.
        self.webhooks = webhooks or {"T0LOOM/B0LOOM/w3bh00kS3cret": "C0INCIDENT"}
        #: Slack user id -> the e-mail of their profile (what `users.info` tells).
        self.users = users or {}
        self._messages: dict[str, dict[str, SlackMessage]] = {}
        self._faults: list[_Fault] = []
        self._ts = itertools.count(100)
        self._state = threading.Lock()
        self.route("POST", r"/services/(?P<hook>.+)", self._webhook)
        self.route("POST", r"/api/(?P<method>chat\.postMessage|chat\.update)", self._api)
        self.route("POST", r"/api/(?P<method>users\.info)", self._api)
        self.route("POST", r"/actions/(?P<path>.+)", self._response_url)
        #: What was posted to a button click's `response_url` (`response_url()`), in order.
        self.responses: list[dict[str, Any]] = []

    # --- the test's side -----------------------------------------------------------

    def start(self) -> FakeSlack:
        super().start()
        return self

    def __enter__(self) -> FakeSlack:
        return self.start()

    @property
    def api_base(self) -> str:
        return f"{self.url}/api"

    def response_url(self, click: str = "T0LOOM/1/click") -> str:
        """A `response_url` for a block_actions payload; what is posted to it lands in
        `responses`."""
        return f"{self.url}/actions/{click}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/services/{next(iter(self.webhooks))}"

    def rate_limit(self, times: int = 1, retry_after: float = 30) -> None:
        """Answer the next `times` calls with 429, Retry-After and `ratelimited`."""
        with self._state:
            self._faults.append(_Fault(429, times, "ratelimited", retry_after))

    def fail(self, status: int = 500, *, times: int = 1, error: str = "internal_error") -> None:
        """Answer the next `times` calls with `status` and `error` (a JSON body for the
        Web API, the bare string for webhooks)."""
        with self._state:
            self._faults.append(_Fault(status, times, error))

    def channel_id(self, channel: str) -> str | None:
        """The id of a channel given by id, "name" or "#name"."""
        if channel in self.channels:
            return channel
        name = channel.removeprefix("#")
        return next((cid for cid, cname in self.channels.items() if cname == name), None)

    def dm_id(self, user_id: str) -> str | None:
        """The id of the bot's DM with member `user_id` (one of `users`): posting to a
        member id posts there, as on Slack."""
        return f"D{user_id[1:]}" if user_id in self.users else None

    def messages(self, channel: str) -> list[SlackMessage]:
        """The messages of `channel` (id or name), oldest first."""
        with self._state:
            return list(self._messages.get(self.channel_id(channel) or channel, {}).values())

    def message(self, channel: str, ts: str) -> SlackMessage:
        with self._state:
            return self._messages[channel][ts]

    # --- HTTP -----------------------------------------------------------------------

    def _fault(self) -> _Fault | None:
        with self._state:
            for fault in self._faults:
                if fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _store(
        self, channel: str, text: str, blocks: list[dict[str, Any]], via: str
    ) -> SlackMessage:
        with self._state:
            ts = f"1700000000.{next(self._ts):06d}"
            message = SlackMessage(channel, ts, text, blocks, via=via)
            self._messages.setdefault(channel, {})[ts] = message
            return message

    def _webhook(self, call: RecordedCall) -> Reply:
        if fault := self._fault():
            return _fault_reply(fault, fault.error)
        channel = self.webhooks.get(call.params["hook"])
        if channel is None:
            return Reply(404, body="no_service")
        try:
            payload = call.json()
        except ValueError:
            return Reply(400, body="invalid_payload")
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return Reply(400, body="invalid_payload")
        blocks = payload.get("blocks", [])
        if block_problem(blocks):
            return Reply(400, body="invalid_payload")
        if channel in self.archived:
            return Reply(410, body="channel_is_archived")
        self._store(channel, str(payload.get("text", "")), blocks, via=call.params["hook"])
        return Reply(200, body="ok", headers={"Content-Type": "text/html"})

    def _response_url(self, call: RecordedCall) -> Reply:
        try:
            payload = json.loads(call.body)
        except ValueError:
            return Reply(400, body="invalid_payload")
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return Reply(400, body="no_text")
        with self._state:
            self.responses.append(payload)
        return Reply(200, json={"ok": True})

    def _api(self, call: RecordedCall) -> Reply:
        if fault := self._fault():
            return _fault_reply(fault, {"ok": False, "error": fault.error})
        args = _arguments(call)
        if args is None:
            return _error("invalid_json")
        auth = call.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth else str(args.get("token", ""))
        if not token:
            return _error("not_authed")
        if token != self.token:
            return _error("invalid_auth")
        if call.params["method"] == "chat.postMessage":
            return self._post_message(args)
        if call.params["method"] == "users.info":
            return self._user(str(args.get("user", "")))
        return self._update(args)

    def _user(self, user_id: str) -> Reply:
        """users.info (scope users:read.email for the e-mail)."""
        email = self.users.get(user_id)
        if email is None:
            return _error("user_not_found")
        return Reply(json={"ok": True, "user": {"id": user_id, "name": email.split("@")[0],
                                                "profile": {"email": email}}})  # fmt: skip

    def _post_message(self, args: dict[str, Any]) -> Reply:
        requested = str(args.get("channel", ""))
        channel = self.channel_id(requested) or self.dm_id(requested)
        if channel is None:
            return _error("channel_not_found")
        if channel in self.archived:
            return _error("is_archived")
        text, blocks = args.get("text"), args.get("blocks")
        if not text and not blocks:
            return _error("no_text")
        if blocks is not None and block_problem(blocks):
            return _error("invalid_blocks")
        message = self._store(channel, str(text or ""), blocks or [], via="bot")
        return _ok(message)

    def _update(self, args: dict[str, Any]) -> Reply:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        if channel not in self.channels:  # ids only, unlike chat.postMessage
            return _error("channel_not_found")
        blocks = args.get("blocks")
        if blocks is not None and block_problem(blocks):
            return _error("invalid_blocks")
        with self._state:
            message = self._messages.get(channel, {}).get(ts)
            if message is None:
                return _error("message_not_found")
            if "text" in args:
                message.text = str(args["text"])
            if blocks is not None:  # omitted: the blocks stay, as on Slack
                message.blocks = blocks
            message.edits += 1
        reply = _ok(message)
        reply.json["text"] = message.text
        return reply


def _arguments(call: RecordedCall) -> dict[str, Any] | None:
    """The method's arguments, from a JSON body or a form (whose `blocks` is JSON)."""
    if call.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(call.body.decode()).items()}
        if "blocks" in args:
            try:
                args["blocks"] = json.loads(args["blocks"])
            except ValueError:
                args["blocks"] = "malformed"
        return args
    try:
        body = call.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _ok(message: SlackMessage) -> Reply:
    shown = {
        "type": "message",
        "bot_id": "B0LOOMBOT",
        "text": message.text,
        "blocks": message.blocks,
        "ts": message.ts,
    }
    return Reply(json={"ok": True, "channel": message.channel, "ts": message.ts, "message": shown})


def _error(error: str) -> Reply:
    return Reply(200, json={"ok": False, "error": error})


def _fault_reply(fault: _Fault, body: Any) -> Reply:
    headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
    if isinstance(body, str):
        return Reply(fault.status, body=body, headers=headers)
    return Reply(fault.status, json=body, headers=headers)


def block_problem(blocks: Any) -> str | None:
    """What is wrong with `blocks`, if anything (None: Slack would take them)."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "blocks must be a list of at most 50 blocks"
    for index, block in enumerate(blocks):
        problem = _block_problem(block)
        if problem:
            return f"blocks[{index}]: {problem}"
    return None


def _block_problem(block: Any) -> str | None:
    if not isinstance(block, dict) or block.get("type") not in _BLOCK_KEYS:
        return "unknown block type"
    kind = block["type"]
    if set(block) - _BLOCK_KEYS[kind]:
        return f"unknown keys {sorted(set(block) - _BLOCK_KEYS[kind])}"
    if kind == "header":
        return _text_problem(block.get("text"), 150, only="plain_text")
    if kind == "section":
        if "text" not in block and "fields" not in block:
            return "a section needs text or fields"
        if "text" in block and (problem := _text_problem(block["text"], 3000)):
            return problem
        if "fields" not in block:
            return None
        fields = block["fields"]
        if not isinstance(fields, list) or not 0 < len(fields) <= 10:
            return "fields must be a list of 1 to 10 text objects"
        return next(filter(None, (_text_problem(f, 2000) for f in fields)), None)
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= 10:
            return "elements must be a list of 1 to 10 elements"
        return next(filter(None, (_text_problem(e, 3000) for e in elements)), None)
    if kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= 25:
            return "elements must be a list of 1 to 25 elements"
        return next(filter(None, (_button_problem(e) for e in elements)), None)
    return None


def _text_problem(text: Any, limit: int, only: str | None = None) -> str | None:
    if not isinstance(text, dict) or text.get("type") not in _TEXT_TYPES:
        return "not a text object"
    if only and text["type"] != only:
        return f"must be {only}"
    if set(text) - {"type", "text", "emoji", "verbatim"}:
        return "unknown keys in a text object"
    value = text.get("text")
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        return f"text must be 1 to {limit} characters"
    return None


def _button_problem(element: Any) -> str | None:
    if not isinstance(element, dict) or element.get("type") != "button":
        return "only buttons here"
    if set(element) - _BUTTON_KEYS:
        return "unknown keys in a button"
    if not isinstance(element.get("action_id"), str) or not 0 < len(element["action_id"]) <= 255:
        return "a button needs an action_id"
    if element.get("style", "primary") not in ("primary", "danger"):
        return "style must be primary or danger"
    if len(str(element.get("value", ""))) > 2000 or len(str(element.get("url", ""))) > 3000:
        return "value or url too long"
    return _text_problem(element.get("text"), 75, only="plain_text")
