"""The e-mail an incident event (or a request's event) becomes: a multipart/alternative
message with a plain-text and an HTML part, threaded on the first mail about the incident.

Every incident field is untrusted text (alert labels, titles written by anyone): the HTML
part escapes all of it, links only http(s) URLs, and header values lose their line breaks
so nothing can inject a header.

Wire format: RFC 5322 (Message-ID, In-Reply-To, References:
https://www.rfc-editor.org/rfc/rfc5322#section-3.6.4) and RFC 2046 multipart/alternative
(https://www.rfc-editor.org/rfc/rfc2046#section-5.1.4), built with Python's
`email.message.EmailMessage` (https://docs.python.org/3/library/email.message.html).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape

from loom.notify.message import Message, RequestMessage

#: A message id as `make_msgid` writes it: `<left@right>`, nothing that could break a header.
_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")


def one_line(text: str) -> str:
    """Header-safe text: line breaks (which would start a new header) become spaces."""
    return " ".join(text.splitlines()).strip()


def facts(message: Message) -> list[tuple[str, str]]:
    """The labelled lines both parts show, in order (values are raw, unescaped text)."""
    if isinstance(message, RequestMessage):
        error = [("Error", message.error)] if message.error else []
        return [*message.facts(), *error]
    rows = [
        ("Status", message.status),
        ("Severity", message.severity),
    ]
    if message.environment:
        rows.append(("Environment", message.environment))
    if message.services:
        rows.append(("Services", ", ".join(message.services)))
    rows.append(("Impact", message.impact()))
    if message.root_cause:
        reason = f" ({message.root_cause_reason})" if message.root_cause_reason else ""
        rows.append(("Probable root cause", f"{message.root_cause}{reason}"))
    if message.related_change:
        change = message.related_change
        rows.append(("Related change", f"{change.summary} (score {change.score})"))
    if message.actor:
        rows.append(("By", message.actor))
    rows.append(("Opened", message.opened_at.isoformat(timespec="seconds")))
    rows.append(("Duration", message.duration_text()))
    return rows


def _change_url(message: Message) -> str | None:
    if isinstance(message, RequestMessage) or message.related_change is None:
        return None
    return message.related_change.url


def _what(message: Message) -> str:
    return "request" if isinstance(message, RequestMessage) else "incident"


def plain_text(message: Message) -> str:
    lines = [message.headline(), ""]
    lines += [f"{label}: {value}" for label, value in facts(message)]
    if change_url := _change_url(message):
        lines.append(f"Change: {change_url}")
    lines += ["", f"Open the {_what(message)}: {message.url}", ""]
    return "\n".join(lines)


def _link(url: str | None, text: str) -> str:
    """An escaped anchor, or the escaped text alone for anything but an http(s) URL
    (a `javascript:` URL must not become a link)."""
    if url and url.lower().startswith(("http://", "https://")):
        return f'<a href="{escape(url, quote=True)}">{escape(text)}</a>'
    return escape(text)


def html_text(message: Message) -> str:
    rows = "\n".join(
        f'<tr><th align="left">{escape(label)}</th><td>{escape(value)}</td></tr>'
        for label, value in facts(message)
    )
    change = ""
    if change_url := _change_url(message):
        change = f"<p>{_link(change_url, 'View the related change')}</p>\n"
    return (
        "<!DOCTYPE html>\n<html><body>\n"
        f"<h2>{escape(message.headline())}</h2>\n"
        f"<table>\n{rows}\n</table>\n{change}"
        f"<p>{_link(message.url, f'Open the {_what(message)} in Loom')}</p>\n"
        "</body></html>\n"
    )


def build(
    message: Message, *, sender: str, recipients: Sequence[str], previous: str | None
) -> EmailMessage:
    """The mail; its `Message-ID` is the remote reference later updates thread on."""
    mail = EmailMessage()
    mail["Subject"] = one_line(message.headline())
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    at = message.at if message.at.tzinfo else message.at.replace(tzinfo=UTC)  # naive is UTC
    mail["Date"] = format_datetime(at)
    domain = sender.rpartition("@")[2] or "loom.invalid"
    mail["Message-ID"] = make_msgid(domain=domain)
    if isinstance(message, RequestMessage):
        mail["X-Loom-Request"] = one_line(message.request_id)
    else:
        mail["X-Loom-Incident"] = one_line(message.ref)
    if previous and _MESSAGE_ID.fullmatch(previous.strip()):
        mail["In-Reply-To"] = previous.strip()
        mail["References"] = previous.strip()
    mail.set_content(plain_text(message))
    mail.add_alternative(html_text(message), subtype="html")
    return mail
