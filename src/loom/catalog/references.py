"""Checking the variables templates refer to (`{{.current.db.name}}`, `{{.output.url}}`)
when the catalog is loaded, so a typo is reported to the platform team at once, not to a
developer at run time.

The check is a hook: this module's reference checker is the default; the provisioning
engine installs its own (which also parses pipes) with `set_template_checker()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Protocol

NAMESPACES = ("current", "output", "metadata", "system")
SYSTEM_KEYS = frozenset(
    {
        "requestId", "taskId", "correlationId", "timestamp", "user", "user.email",
        "user.name", "user.teams", "platform", "platform.region", "platform.environment",
        "callbackUrl",
    }
)  # fmt: skip
METADATA_FIELDS = frozenset(
    {"id", "name", "description", "category", "version", "owner", "tags", "links", "custom"}
)
#: System values only some action types have (value → the type).
SYSTEM_KEYS_OF_TYPE = {"callbackUrl": "callback"}
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
#: String literals inside an expression (`printf "%s.x"`): text, not references.
_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\'(?:[^\'\\]|\\.)*\'', re.S)
_REFERENCE = re.compile(r"(?<![\w.\"'])\.([A-Za-z_][\w]*)((?:\.[A-Za-z0-9_-]+)*)")


@dataclass(frozen=True)
class TemplateScope:
    """What a template at one place of the catalog may refer to."""

    current: Set[str]  # form field paths
    outputs: Set[str]  # output keys produced before this point
    metadata: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # item id → metadata


class TemplateChecker(Protocol):
    def __call__(self, template: str, scope: TemplateScope) -> list[str]: ...


def references(template: str) -> Iterator[tuple[str, str]]:
    """(namespace, dotted path) of every variable used in the template's expressions."""
    for output, statement in _EXPRESSION.findall(template):
        expression = output or statement
        for namespace, rest in _REFERENCE.findall(_LITERAL.sub('""', expression)):
            yield namespace, rest.lstrip(".")


def check_references(template: str, scope: TemplateScope) -> list[str]:
    problems: list[str] = []
    for namespace, path in references(template):
        ref = f".{namespace}.{path}" if path else f".{namespace}"
        if namespace not in NAMESPACES:
            problems.append(f"{ref}: unknown namespace (use one of {', '.join(NAMESPACES)})")
        elif not path:
            problems.append(f"{ref}: name a value inside the namespace")
        elif namespace == "current" and path not in scope.current:
            problems.append(f"{ref}: no form field '{path}'")
        elif namespace == "output" and path not in scope.outputs:
            problems.append(f"{ref}: no earlier action produces output '{path}'")
        elif namespace == "system" and path not in SYSTEM_KEYS:
            problems.append(
                f"{ref}: unknown system value (known: {', '.join(sorted(SYSTEM_KEYS))})"
            )
        elif namespace == "metadata":
            problems.extend(_check_metadata(ref, path, scope))
    return problems


def _check_metadata(ref: str, path: str, scope: TemplateScope) -> list[str]:
    item_id, _, rest = path.partition(".")
    metadata = scope.metadata.get(item_id)
    if metadata is None:
        return [f"{ref}: no catalog item '{item_id}'"]
    if not rest:
        return []
    key, _, sub = rest.partition(".")
    if key not in METADATA_FIELDS:
        return [f"{ref}: items have no metadata field '{key}'"]
    if key == "custom" and sub and sub.split(".")[0] not in metadata.get("custom", {}):
        return [f"{ref}: item '{item_id}' has no custom field '{sub.split('.')[0]}'"]
    return []


_checker: TemplateChecker = check_references


def set_template_checker(checker: TemplateChecker) -> None:
    """Install the variable engine's validator (called once by the provisioning domain)."""
    global _checker
    _checker = checker


def check_template(template: str, scope: TemplateScope) -> list[str]:
    return _checker(template, scope)


def strings_in(
    value: Any, path: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], str]]:
    """Every string inside a config value with its path (templates can be anywhere)."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    _collect_strings(value, path, found)
    return found


def _collect_strings(
    value: Any, path: tuple[str | int, ...], found: list[tuple[tuple[str | int, ...], str]]
) -> None:
    # Into one list rather than through nested generators: every catalog load walks
    # thousands of configs, and each level of `yield from` passes each string on again.
    if isinstance(value, str):
        found.append((path, value))
    elif type(value) is dict or isinstance(value, Mapping):  # the ABC check is slow
        for key, child in value.items():
            _collect_strings(child, (*path, str(key)), found)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _collect_strings(child, (*path, i), found)
