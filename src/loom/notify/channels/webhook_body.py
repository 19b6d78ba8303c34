"""The JSON body a generic webhook receives: Loom's documented default object, or what the
channel's own template renders from it.

The default body (version 1)::

    {
      "version": 1,
      "event": "incident.opened",          # NotifyEvent value ("incident.updated": counts moved)
      "incident": {
        "id": "0f3c…", "ref": "INC-42", "title": "...", "headline": "[CRITICAL] INC-42 ...",
        "status": "triggered", "severity": "critical", "environment": "prod" | null,
        "opened_at": "2026-11-27T08:00:00+00:00", "at": "...", "duration_seconds": 720,
        "duration_text": "12 min", "url": "https://loom.example.com/incidents/0f3c",
        "services": ["orders-db", "orders"], "impact": "2 services affected, ...",
        "alert_count": 3, "firing_count": 2,
        "root_cause": "orders-db" | null, "root_cause_reason": "..." | null,
        "related_change": {"summary": "...", "score": 80, "url": "..." | null} | null,
        "actor": "ann@example.com" | null, "org": "acme", "extra": {"k": "v"}
      }
    }

A request's event (request.failed, approval.needed) has `"request"` in place of
`"incident"`::

    {"version": 1, "event": "request.failed", "request": {
        "id": "…", "ref": "request 1a2b3c4d", "headline": "Request failed: …",
        "entry_id": "postgres", "entry_name": "PostgreSQL database", "team": "shop",
        "requester": "rita@example.com", "state": "failed", "at": "…", "url": "…",
        "failed_task": "2 (create-db)" | null, "error": "…" | null,
        "approvers": "team payments" | null, "waiting_for": "…" | null, "org": "acme"}}

A template is written in Loom's template language (`loom.provisioning.templating`: a
jinja2 `ImmutableSandboxedEnvironment`, no calls, no attributes outside mappings, size
and time limits). It sees the default body's keys as namespaces: `{{ .event }}`,
`{{ .incident.ref }}`, `{{ .request.error }}` (the namespace a message does not have is
missing: empty, and false in an `{% if %}`), `{% for s in .incident.services %}`. It is
rendered as a JSON document: an expression outside quotes becomes a JSON value (`"services":
{{ .incident.services }}` gives a list), inside quotes a JSON-escaped piece of text, so
untrusted incident text cannot break the document's structure. The result must parse
as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from loom.notify.message import Message, RequestMessage
from loom.provisioning.templating import (
    DEFAULT_LIMITS,
    Missing,
    ParseError,
    Resolved,
    Template,
    TemplateError,
    parse,
    transform,
)
from loom.provisioning.templating.errors import located
from loom.provisioning.templating.sandbox import in_range

VERSION = 1
#: The incident fields of the default body (what a template may read).
INCIDENT_FIELDS = (
    "id", "ref", "title", "headline", "status", "severity", "environment", "opened_at", "at",
    "duration_seconds", "duration_text", "url", "services", "impact", "alert_count",
    "firing_count", "root_cause", "root_cause_reason", "related_change", "actor", "org", "extra",
)  # fmt: skip
#: The request fields of a request event's default body.
REQUEST_FIELDS = (
    "id", "ref", "headline", "entry_id", "entry_name", "team", "requester", "state", "at", "url",
    "failed_task", "error", "approvers", "waiting_for", "org",
)  # fmt: skip


class TemplateInvalid(ValueError):
    """A webhook template that does not compile, or reads what the body does not have."""


class TemplateFailed(Exception):
    """A template that compiled but failed to render, or rendered something not JSON."""


def payload(message: Message) -> dict[str, Any]:
    """The default body (see the module docstring)."""
    if isinstance(message, RequestMessage):
        return {"version": VERSION, "event": message.event.value, "request": _request(message)}
    change = message.related_change
    incident: dict[str, Any] = {
        "id": message.incident_id,
        "ref": message.ref,
        "title": message.title,
        "headline": message.headline(),
        "status": message.status,
        "severity": message.severity,
        "environment": message.environment,
        "opened_at": message.opened_at.isoformat(),
        "at": message.at.isoformat(),
        "duration_seconds": int(message.duration.total_seconds()),
        "duration_text": message.duration_text(),
        "url": message.url,
        "services": list(message.services),
        "impact": message.impact(),
        "alert_count": message.alert_count,
        "firing_count": message.firing_count,
        "root_cause": message.root_cause,
        "root_cause_reason": message.root_cause_reason,
        "related_change": (
            {"summary": change.summary, "score": change.score, "url": change.url}
            if change
            else None
        ),
        "actor": message.actor,
        "org": message.org,
        "extra": dict(message.extra),
    }
    return {"version": VERSION, "event": message.event.value, "incident": incident}


def compile_template(text: str) -> Template:
    """The parsed template; `TemplateInvalid` says what is wrong and where."""
    try:
        template = parse(text, DEFAULT_LIMITS)
    except ParseError as exc:
        raise TemplateInvalid(f"webhook template: {located(exc, text)}") from None
    for reference in template.references:
        ref, path = reference.text, reference.path
        if reference.namespace == "event" and not path:
            continue
        if reference.namespace == "version" and not path:
            continue
        if reference.namespace == "request":
            if path and path[0] not in REQUEST_FIELDS:
                raise TemplateInvalid(
                    f"webhook template: {ref}: no request field '{path[0]}' "
                    f"(known: {', '.join(REQUEST_FIELDS)})"
                )
            continue
        if reference.namespace != "incident":
            raise TemplateInvalid(
                f"webhook template: {ref}: unknown name (use .event, .version, "
                ".incident.<field> or .request.<field>)"
            )
        if path and path[0] not in INCIDENT_FIELDS:
            raise TemplateInvalid(
                f"webhook template: {ref}: no incident field '{path[0]}' "
                f"(known: {', '.join(INCIDENT_FIELDS)})"
            )
    return template


def validate_template(text: str) -> None:
    """Raise `TemplateInvalid` for a template that would never render (for channel CRUD)."""
    compile_template(text)


def render(text: str, message: Message) -> bytes:
    """The body the template renders from `payload(message)`, checked to be JSON."""
    template = compile_template(text)
    roots = payload(message)
    values = {ref: _lookup(roots, ref.namespace, ref.path) for ref in template.references}
    try:
        result = transform(Resolved(template, values), fmt="json")
    except TemplateError as exc:
        raise TemplateFailed(f"webhook template failed to render: {exc.message}") from None
    rendered = str(result.value)
    try:
        json.loads(rendered)
    except ValueError as exc:
        raise TemplateFailed(f"webhook template did not render valid JSON: {exc}") from None
    return rendered.encode()


def _lookup(roots: Mapping[str, Any], namespace: str, path: tuple[str | int, ...]) -> Any:
    value: Any = roots.get(namespace, Missing(name="." + namespace))
    for key in path:
        found = isinstance(value, Mapping) and isinstance(key, str) and key in value
        if not (found or (isinstance(value, list | tuple) and in_range(value, key))):
            return Missing(name="." + ".".join([namespace, *map(str, path)]))
        value = value[key]
    return value


def _request(message: RequestMessage) -> dict[str, Any]:
    return {
        "id": message.request_id,
        "ref": message.ref,
        "headline": message.headline(),
        "entry_id": message.entry_id,
        "entry_name": message.entry_name,
        "team": message.team,
        "requester": message.requester,
        "state": message.state,
        "at": message.at.isoformat(),
        "url": message.url,
        "failed_task": message.failed_task,
        "error": message.error,
        "approvers": message.approvers,
        "waiting_for": message.waiting_for,
        "org": message.org,
    }
