"""Phase 2, `validate(template, scope)` → problems: references to what does not exist
at that place of the catalog; and `check`, the catalog's template checker built on it."""

from __future__ import annotations

import re
import typing
from functools import lru_cache
from typing import TYPE_CHECKING

from loom.provisioning.templating.errors import ParseError, located
from loom.provisioning.templating.namespaces import vocabulary
from loom.provisioning.templating.parsing import parse
from loom.provisioning.templating.pipes import PIPES
from loom.provisioning.templating.template import Key, Reference, Template, has_tags

if TYPE_CHECKING:  # the catalog imports this package (to install its checker)
    from loom.catalog.references import TemplateScope


def validate(template: Template, scope: TemplateScope) -> list[str]:
    """Problems with the template's references at this place of the catalog, each as
    `<reference>: <what is wrong>` (empty when every reference will have a value)."""
    problems = (_problem(reference, scope) for reference in template.references)
    return [problem for problem in problems if problem]


def _problem(reference: Reference, scope: TemplateScope) -> str | None:
    ref, path = reference.text, reference.path
    names = [str(key) for key in path]
    namespace = reference.namespace
    known = vocabulary()
    if namespace not in known.namespaces:
        return f"{ref}: unknown namespace (use one of {', '.join(known.namespaces)})"
    if not path:
        return f"{ref}: name a value inside the namespace"
    if namespace == "current":
        return _current_problem(ref, path, scope.current)
    if namespace == "output":
        if names[0] not in scope.outputs:
            return f"{ref}: no earlier action produces output '{names[0]}'"
        return None
    if namespace == "system":
        key = ".".join(str(k) for k in _without_indexes(path))
        if key not in known.system:
            return f"{ref}: unknown system value (known: {', '.join(sorted(known.system))})"
        return None
    return _metadata_problem(ref, names, scope)


def _without_indexes(path: tuple[Key, ...]) -> tuple[Key, ...]:
    end = len(path)
    while end > 1 and isinstance(path[end - 1], int):
        end -= 1
    return path[:end]


def _current_problem(
    ref: str, path: tuple[Key, ...], fields: typing.AbstractSet[str]
) -> str | None:
    names = [str(key) for key in path]
    full = ".".join(names)
    if ".".join(str(k) for k in _without_indexes(path)) in fields:
        return None
    for end in range(len(names) - 1, 0, -1):
        prefix = ".".join(names[:end])
        if prefix in fields and not any(f.startswith(prefix + ".") for f in fields):
            rest = names[end]
            hint = (
                f" (to transform it, use a pipe: .current.{prefix} | {rest})"
                if rest in PIPES
                else ""
            )
            return f"{ref}: '{prefix}' is a form value, not a group; it has no field '{rest}'{hint}"
    return f"{ref}: no form field '{full}'"


def _metadata_problem(ref: str, names: list[str], scope: TemplateScope) -> str | None:
    item_id, rest = names[0], names[1:]
    metadata = scope.metadata.get(item_id)
    if metadata is None:
        return f"{ref}: no catalog item '{item_id}'"
    if not rest:
        return None
    if rest[0] not in vocabulary().metadata:
        return f"{ref}: items have no metadata field '{rest[0]}'"
    custom = metadata.get("custom") or {}
    if rest[0] == "custom" and len(rest) > 1 and rest[1] not in custom:
        return f"{ref}: item '{item_id}' has no custom field '{rest[1]}'"
    return None


def check(template: str, scope: TemplateScope) -> list[str]:
    """The catalog's template check: parse and validate, every problem as a message."""
    if not has_tags(template):
        return []
    references = _quick_references(template)
    if references is None:
        try:
            references = parse(template).references
        except ParseError as exc:
            return [located(exc, template)]
    problems = (_problem(reference, scope) for reference in references)
    return [problem for problem in problems if problem]


_QUICK_TAG = (
    r"\{\{-?\s*\.([A-Za-z]\w*)((?:\.[A-Za-z][A-Za-z0-9]*(?:(?:-|_+)[A-Za-z0-9]+)*)*)\s*-?\}\}"
)
_QUICK = re.compile(rf"(?:[^{{]|\{{(?![{{%#])|{_QUICK_TAG})*")


@lru_cache(maxsize=8192)
def _quick_references(source: str) -> tuple[Reference, ...] | None:
    """The references of a template made only of text and `{{ .plain.references }}`
    (most catalog templates), found without the parser; None for any other template.
    Gives what `parse(source).references` gives (tests hold the two together)."""
    if not _QUICK.fullmatch(source):
        return None
    seen: dict[Reference, None] = {}
    for match in re.finditer(_QUICK_TAG, source):
        path = tuple(match.group(2).split(".")[1:])
        seen.setdefault(Reference(match.group(1), path, source.count("\n", 0, match.start(1)) + 1))
    return tuple(seen)


def install() -> None:
    """Make this engine the catalog's template checker (replacing the default one);
    `loom.catalog` calls it when it is imported, so every catalog load uses it."""
    from loom.catalog.references import set_template_checker

    set_template_checker(check)
