"""A parsed template and the references it reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes

Key = str | int


@dataclass(frozen=True)
class Reference:
    """One variable a template reads: `.metadata.postgres-database.owner`."""

    namespace: str
    path: tuple[Key, ...]
    line: int = field(default=1, compare=False)

    @property
    def text(self) -> str:
        return "." + ".".join([self.namespace, *map(str, self.path)])


@dataclass(frozen=True, eq=False)
class Template:
    """A parsed template: what it references, and its checked syntax tree."""

    source: str
    references: tuple[Reference, ...] = ()
    #: The whole text is one `{{ expression }}` (its value may be an object).
    single: bool = False
    _tree: nodes.Template | None = field(default=None, repr=False)
    _names: Mapping[Reference, str] = field(default_factory=dict, repr=False)
    _expression: nodes.Expr | None = field(default=None, repr=False)
    _programs: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def plain(self) -> bool:
        """Text without any tag: it renders as itself."""
        return self._tree is None


def has_tags(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text
