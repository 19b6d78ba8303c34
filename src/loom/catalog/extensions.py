"""More document kinds in the catalog repository, contributed by the domains above it.

The catalog reads `catalog/` and `bundles/` itself. A domain that builds on it (the
service registry: `kind: Service`, `kind: ScorecardRule`) registers a `DocumentKind`
here: its folder, its pydantic model, optional whole-document rules and an `apply` hook.
The loader then validates those documents like its own (problems as `file:line path:
message`, a bad document skipped, the good ones kept) and the sync hands them to the hook
in its transaction. The catalog never imports those domains; they register themselves
when imported (`loom.services.catalog_kinds`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit.entry import Actor
from loom.auth.principal import Principal
from loom.catalog.yaml_source import Path, SourceDocument

#: The folders the catalog reads itself: no extra kind may claim them.
BUILTIN_FOLDERS = ("catalog", "bundles")

#: Run by the sync's `apply`, in its transaction, once the stored catalog changed (modules
#: above the catalog that keep data derived from it, such as the search index, register
#: here; this module is light, so registering loads no database or app layer).
after_apply: list[Callable[[AsyncSession, uuid.UUID], Awaitable[None]]] = []


@dataclass(frozen=True)
class KindEntry:
    """A valid document of a registered kind, with where it came from."""

    document: Any  #: an instance of the kind's model; it has `metadata.id`
    file: str
    line: int
    owner: str | None  #: `metadata.owner` if the model has one, else the file's CODEOWNERS team
    digest: str
    source: SourceDocument

    @property
    def id(self) -> str:
        doc_id: str = self.document.metadata.id
        return doc_id


@dataclass
class KindBatch:
    """What one sync hands a kind's `apply` hook."""

    entries: list[KindEntry] = field(default_factory=list)
    #: Ids found in the repository but invalid now: whatever they made stays as it was.
    rejected: set[str] = field(default_factory=set)
    #: A file in the kind's folder could not be read: its documents' ids are unknown, so
    #: nothing may be treated as gone from the repository in this sync.
    unreadable: bool = False
    commit: str | None = None


@dataclass(frozen=True)
class KindProblem:
    """A document the hook could not (fully) apply; reported at its file and line."""

    entry: KindEntry
    path: Path
    message: str


#: (session, organisation, documents, who syncs) -> problems; it only flushes.
ApplyHook = Callable[
    [AsyncSession, uuid.UUID, KindBatch, Actor | Principal], Awaitable[list[KindProblem]]
]
#: Whole-document rules beyond the model's types: (path, message) per problem.
CheckHook = Callable[[Any], Iterable[tuple[Path, str]]]


@dataclass(frozen=True)
class DocumentKind:
    kind: str
    folder: str
    model: type[BaseModel]
    apply: ApplyHook
    check: CheckHook | None = None


_KINDS: dict[str, DocumentKind] = {}


def register(kind: DocumentKind) -> DocumentKind:
    """Add a kind (registering the same one again is harmless, e.g. on module reload)."""
    if kind.folder in BUILTIN_FOLDERS:
        raise ValueError(f"folder '{kind.folder}' belongs to the catalog")
    known = _KINDS.get(kind.kind)
    if known is not None and known.folder != kind.folder:
        raise ValueError(f"kind '{kind.kind}' is already registered for '{known.folder}/'")
    _KINDS[kind.kind] = kind
    return kind


def registered() -> Mapping[str, DocumentKind]:
    return MappingProxyType(_KINDS)
