"""An incident as a Slack Block Kit message: a header, the facts as section fields, the
probable root cause and related change, and the Acknowledge / View / Start runbook
buttons; a request's event (`RequestMessage`) as its facts, the error and a View button
(an approval adds an Approve button and how to reject from Slack).
Every text is cut to Slack's limits, since Slack rejects the whole message
(`invalid_blocks`) when one element is too long.

Wire format: https://docs.slack.dev/reference/block-kit/blocks/header-block,
https://docs.slack.dev/reference/block-kit/blocks/section-block,
https://docs.slack.dev/reference/block-kit/blocks/context-block,
https://docs.slack.dev/reference/block-kit/blocks/actions-block,
https://docs.slack.dev/reference/block-kit/block-elements/button-element,
https://docs.slack.dev/messaging/formatting-message-text (escaping &, <, >).
"""

from __future__ import annotations

from typing import Any

from loom.notify.message import IncidentMessage, Message, NotifyEvent, RequestMessage

HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
BUTTON_URL_MAX = 3000

#: action_id of the buttons, what Loom's Slack interaction endpoint dispatches on.
ACK_ACTION = "loom_ack"
VIEW_ACTION = "loom_view"
RUNBOOK_ACTION = "loom_runbook"
APPROVE_ACTION = "loom_approve"

SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":large_blue_circle:",
}

Block = dict[str, Any]


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Text from incidents made safe in mrkdwn: `<`, `>` and `&` would otherwise start
    links, mentions or entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def severity_text(severity: str) -> str:
    emoji = SEVERITY_EMOJI.get(severity, ":white_circle:")
    return f"{emoji} {severity.capitalize()}"


def is_resolved(message: IncidentMessage) -> bool:
    return message.event is NotifyEvent.RESOLVED or message.status == "resolved"


def render(message: Message) -> list[Block]:
    """The blocks of `message` (the top-level `text` is `message.headline()`)."""
    if isinstance(message, RequestMessage):
        return _request_blocks(message)
    blocks: list[Block] = [
        {"type": "header", "text": plain(message.headline(), HEADER_MAX)},
        {"type": "section", "fields": _fields(message)},
    ]
    if message.root_cause:
        reason = f" — {escape(message.root_cause_reason)}" if message.root_cause_reason else ""
        text = f"*Probable root cause:* `{escape(message.root_cause)}`{reason}"
        blocks.append({"type": "section", "text": mrkdwn(text, SECTION_TEXT_MAX)})
    if message.related_change:
        blocks.append({"type": "context", "elements": [_related_change(message)]})
    blocks.append({"type": "actions", "elements": _buttons(message)})
    return blocks


def _fields(message: IncidentMessage) -> list[dict[str, Any]]:
    facts: list[tuple[str, str]] = [
        ("Severity", severity_text(message.severity)),
        ("Status", escape(message.status.capitalize())),
    ]
    if message.root_cause:
        facts.append(("Root cause", f"`{escape(message.root_cause)}`"))
    if message.services:
        facts.append(("Services", escape(", ".join(message.services))))
    facts.append(("Duration", message.duration_text()))
    facts.append(("Impact", escape(message.impact())))
    if message.environment:
        facts.append(("Environment", escape(message.environment)))
    if message.actor and message.event in (NotifyEvent.ACKNOWLEDGED, NotifyEvent.RESOLVED):
        verb = "Resolved" if message.event is NotifyEvent.RESOLVED else "Acknowledged"
        facts.append((f"{verb} by", escape(message.actor)))
    return [mrkdwn(f"*{label}*\n{value}", FIELD_TEXT_MAX) for label, value in facts[:FIELDS_MAX]]


def _related_change(message: IncidentMessage) -> dict[str, Any]:
    change = message.related_change
    assert change is not None
    summary = escape(change.summary)
    if change.url:
        # A link label cannot hold "|" or ">" (they end it); escape() has taken ">".
        summary = f"<{change.url}|{summary.replace('|', '¦')}>"
    return mrkdwn(f"*Related change:* {summary} (score {change.score}%)", SECTION_TEXT_MAX)


def _button(text: str, action_id: str, **extra: str) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT_MAX),
        "action_id": action_id,
    }
    button.update(extra)
    return button


def _buttons(message: IncidentMessage) -> list[dict[str, Any]]:
    value = message.incident_id[:BUTTON_VALUE_MAX]
    buttons = []
    if not is_resolved(message):
        buttons.append(_button("Acknowledge", ACK_ACTION, value=value, style="primary"))
    if message.url and len(message.url) <= BUTTON_URL_MAX:
        buttons.append(_button("View", VIEW_ACTION, url=message.url))
    buttons.append(_button("Start runbook", RUNBOOK_ACTION, value=value))
    return buttons


def _request_blocks(message: RequestMessage) -> list[Block]:
    """A request's event: its facts, the error of a failure, and a View button."""
    fields = [
        mrkdwn(f"*{label}*\n{escape(value)}", FIELD_TEXT_MAX)
        for label, value in message.facts()[:FIELDS_MAX]
    ]
    blocks: list[Block] = [
        {"type": "header", "text": plain(message.headline(), HEADER_MAX)},
        {"type": "section", "fields": fields},
    ]
    if message.error:
        # In a code block, kept whole: a backtick of the error would end it early.
        error = clip(escape(message.error).replace("`", "'"), SECTION_TEXT_MAX - 20)
        text = f"*Error:*\n```{error}```"
        blocks.append({"type": "section", "text": mrkdwn(text, SECTION_TEXT_MAX)})
    buttons = []
    if message.event is NotifyEvent.APPROVAL_NEEDED:
        value = message.request_id[:BUTTON_VALUE_MAX]
        buttons.append(_button("Approve", APPROVE_ACTION, value=value, style="primary"))
        # A rejection needs a reason, which a button cannot ask for.
        short = message.request_id[:8]
        hint = f"To reject: `/loom reject {short} <reason>` (approve: `/loom approve {short}`)"
        blocks.append({"type": "context", "elements": [mrkdwn(hint, SECTION_TEXT_MAX)]})
    if message.url and len(message.url) <= BUTTON_URL_MAX:
        buttons.append(_button("View request", VIEW_ACTION, url=message.url))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks
