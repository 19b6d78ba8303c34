"""Walking a form: every field with its dotted path (`group.field`), and reading values
by path from nested input."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from loom.catalog.documents import Form, FormField

_MISSING = object()


def walk(fields: list[FormField], prefix: str = "") -> Iterator[tuple[str, FormField]]:
    """(path, field) for every field, groups before their children."""
    for field in fields:
        path = f"{prefix}{field.id}"
        yield path, field
        if field.type == "group" and field.fields:
            yield from walk(field.fields, f"{path}.")


def field_paths(form: Form) -> dict[str, FormField]:
    return dict(walk(form.fields))


def get_path(data: Mapping[str, Any], path: str, default: Any = None) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Put `value` at a dotted path, making (or replacing non-mapping) parents as needed."""
    node = data
    *parents, leaf = path.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def is_set(value: Any) -> bool:
    return value is not None and value != "" and value != []
