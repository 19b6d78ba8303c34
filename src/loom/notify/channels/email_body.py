"""The e-mail an incident event becomes: a multipart/alternative message with a plain-text
and an HTML part, threaded on the first mail about the incident.

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

from loom.notify.message import IncidentMessage

#: A message id as `make_msgid` writes it: `<left@right>`, nothing that could break a header.
_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")


def one_line(text: str) -> str:
    """Header-safe text: line breaks (which would start a new header) become spaces."""
    return " ".join(text.splitlines()).strip()


def facts(message: IncidentMessage) -> list[tuple[str, str]]:
    """The labelled lines both parts show, in order (values are raw, unescaped text)."""
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


def plain_text(message: IncidentMessage) -> str:
    lines = [message.headline(), ""]
    lines += [f"{label}: {value}" for label, value in facts(message)]
    if message.related_change and message.related_change.url:
        lines.append(f"Change: {message.related_change.url}")
    lines += ["", f"Open the incident: {message.url}", ""]
    return "\n".join(lines)


def _link(url: str | None, text: str) -> str:
    """An escaped anchor, or the escaped text alone for anything but an http(s) URL
    (a `javascript:` URL must not become a link)."""
    if url and url.lower().startswith(("http://", "https://")):
        return f'<a href="{escape(url, quote=True)}">{escape(text)}</a>'
    return escape(text)


def html_text(message: IncidentMessage) -> str:
    rows = "\n".join(
        f'<tr><th align="left">{escape(label)}</th><td>{escape(value)}</td></tr>'
        for label, value in facts(message)
    )
    change = ""
    if message.related_change and message.related_change.url:
        change = f"<p>{_link(message.related_change.url, 'View the related change')}</p>\n"
    return (
        "<!DOCTYPE html>\n<html><body>\n"
        f"<h2>{escape(message.headline())}</h2>\n"
        f"<table>\n{rows}\n</table>\n{change}"
        f"<p>{_link(message.url, 'Open the incident in Loom')}</p>\n"
        "</body></html>\n"
    )


def build(
    message: IncidentMessage, *, sender: str, recipients: Sequence[str], previous: str | None
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
    mail["X-Loom-Incident"] = one_line(message.ref)
    if previous and _MESSAGE_ID.fullmatch(previous.strip()):
        mail["In-Reply-To"] = previous.strip()
        mail["References"] = previous.strip()
    mail.set_content(plain_text(message))
    mail.add_alternative(html_text(message), subtype="html")
    return mail
