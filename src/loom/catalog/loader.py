"""Loading a catalog checkout: every document under catalog/ and bundles/ (and the
folders of kinds registered in `extensions.py`), validated, with every problem reported
at once as `file:line path: message`.

A bad document is reported and skipped; it never hides the good ones. This module reads
files only: it knows nothing of the database or git (see `source.py` and `service.py`).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from loom.catalog.codeowners import LOCATIONS, CodeOwners
from loom.catalog.documents import KINDS, CatalogBundle, CatalogItem, Document
from loom.catalog.extensions import DocumentKind, KindBatch, KindEntry, registered
from loom.catalog.rules import Finding, bundle_findings, collapse_union_errors, item_findings
from loom.catalog.yaml_source import SourceDocument, YamlProblem, format_path, load_documents

DOCUMENT_DIRS = ("catalog", "bundles")
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    message: str
    document_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where} {self.message}"


@dataclass(frozen=True)
class Entry:
    """A valid document with where it came from and who owns it."""

    document: Document
    file: str
    line: int
    owner: str | None
    digest: str

    @property
    def id(self) -> str:
        return self.document.metadata.id

    @property
    def kind(self) -> str:
        return self.document.kind


@dataclass
class LoadedCatalog:
    items: dict[str, Entry] = field(default_factory=dict)
    bundles: dict[str, Entry] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: Ids of documents that were found but skipped as invalid.
    rejected: set[str] = field(default_factory=set)
    #: Files that could not be read at all (bad YAML, not UTF-8): their documents' ids are
    #: unknown, so whatever was served from them stays served.
    unreadable: set[str] = field(default_factory=set)
    files: int = 0
    #: Documents of registered kinds, by kind then id; their invalid ids by kind.
    kinds: dict[str, dict[str, KindEntry]] = field(default_factory=dict)
    kind_rejected: dict[str, set[str]] = field(default_factory=dict)

    @property
    def entries(self) -> list[Entry]:
        return [*self.items.values(), *self.bundles.values()]

    def batch(self, kind: DocumentKind, commit: str | None) -> KindBatch:
        """What the sync hands `kind`'s apply hook."""
        prefix = f"{kind.folder}/"
        return KindBatch(
            entries=list(self.kinds.get(kind.kind, {}).values()),
            rejected=set(self.kind_rejected.get(kind.kind, set())),
            unreadable=any(f.startswith(prefix) for f in self.unreadable),
            commit=commit,
        )


@dataclass
class _Candidate:
    document: Document
    source: SourceDocument
    file: str


@dataclass
class _KindCandidate:
    kind: DocumentKind
    document: Any
    source: SourceDocument
    file: str


def digest(data: Any) -> str:
    """Identity of a definition: its data as written (comments and key order aside)."""
    # YAML data is a tree (aliases are copied, loops refused): no need to watch for cycles.
    canonical = json.dumps(
        data, sort_keys=True, separators=(",", ":"), default=str, check_circular=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_files(root: Path) -> list[tuple[str, bytes]]:
    """(relative path, content) of every document file, in a stable order. Contents are
    decoded when parsed, so that a file that is not UTF-8 is reported, not fatal."""
    files: list[tuple[str, bytes]] = []
    extra = (k.folder for k in registered().values())
    for folder in dict.fromkeys((*DOCUMENT_DIRS, *extra)):
        base = root / folder
        if not base.is_dir():
            continue
        found: list[tuple[tuple[str, ...], str]] = []
        _find_documents(str(base), (folder,), found)
        for parts, path in sorted(found):  # by path parts, as pathlib orders paths
            with open(path, "rb") as file:
                files.append(("/".join(parts), file.read()))
    return files


def _find_documents(
    directory: str, parts: tuple[str, ...], found: list[tuple[tuple[str, ...], str]]
) -> None:
    """Document files under `directory` with their path parts from the root (os.scandir:
    pathlib's rglob took half of reading a large catalog). Linked directories are not
    followed, as rglob does not follow them; linked files are read."""
    try:
        with os.scandir(directory) as scan:
            entries = list(scan)
    except PermissionError:
        return
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            _find_documents(entry.path, (*parts, entry.name), found)
        elif os.path.splitext(entry.name)[1] in SUFFIXES and entry.is_file():
            found.append(((*parts, entry.name), entry.path))


def read_codeowners(root: Path) -> CodeOwners:
    for location in LOCATIONS:
        path = root / location
        if path.is_file():
            return CodeOwners(path.read_text(encoding="utf-8", errors="replace"))
    return CodeOwners()


def load_directory(root: Path, last_good: Mapping[str, CatalogItem] | None = None) -> LoadedCatalog:
    return load_files(read_files(root), read_codeowners(root), last_good=last_good)


def _parse(
    file: str, content: str | bytes, catalog: LoadedCatalog, others: list[_KindCandidate]
) -> list[_Candidate]:
    try:
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        sources = load_documents(text)
    except YamlProblem as exc:
        catalog.problems.append(Problem(file, exc.line, "", exc.message))
        catalog.unreadable.add(file)
        return []
    except UnicodeDecodeError:
        catalog.problems.append(Problem(file, 1, "", "not UTF-8 text"))
        catalog.unreadable.add(file)
        return []
    candidates = []
    for source in sources:
        data = source.data
        doc_id = _raw_id(data)
        if not isinstance(data, dict):
            catalog.problems.append(
                Problem(file, source.start_line, "", "a document must be a mapping")
            )
            continue
        kind = data.get("kind")
        model = KINDS.get(kind) if isinstance(kind, str) else None
        extra = registered().get(kind) if isinstance(kind, str) else None
        if model is None and extra is None:
            line = source.line_of(("kind",))
            known = " or ".join([*KINDS, *registered()])
            catalog.problems.append(Problem(file, line, "kind", f"must be {known}", doc_id))
            _reject(catalog, doc_id)
            continue
        try:
            document = (extra.model if extra else model).model_validate(data)  # type: ignore[union-attr]
        except ValidationError as exc:
            for loc, message in collapse_union_errors(exc.errors()):
                catalog.problems.append(
                    Problem(file, source.line_of(loc), format_path(loc), message, doc_id)
                )
            if extra is not None:
                _reject_kind(catalog, extra.kind, doc_id)
            else:
                _reject(catalog, doc_id)
            continue
        if extra is not None:
            others.append(_KindCandidate(extra, document, source, file))
        else:
            candidates.append(_Candidate(cast(Document, document), source, file))
    return candidates


def _raw_id(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
        raw = data["metadata"].get("id")
        return raw if isinstance(raw, str) else None
    return None


def _reject(catalog: LoadedCatalog, doc_id: str | None) -> None:
    if doc_id:
        catalog.rejected.add(doc_id)


def _reject_kind(catalog: LoadedCatalog, kind: str, doc_id: str | None) -> None:
    """Ids of registered kinds are their own namespace, apart from items and bundles."""
    if doc_id:
        catalog.kind_rejected.setdefault(kind, set()).add(doc_id)


def _report(catalog: LoadedCatalog, candidate: _Candidate, findings: Iterable[Finding]) -> bool:
    """Record findings as problems; True when the document is clean."""
    clean = True
    for path, message in findings:
        clean = False
        catalog.problems.append(
            Problem(
                candidate.file,
                candidate.source.line_of(path),
                format_path(path),
                message,
                candidate.document.metadata.id,
            )
        )
    if not clean:
        _reject(catalog, candidate.document.metadata.id)
    return clean


def load_files(
    files: Iterable[tuple[str, str | bytes]],
    owners: CodeOwners | None = None,
    context_items: Mapping[str, CatalogItem] | None = None,
    last_good: Mapping[str, CatalogItem] | None = None,
) -> LoadedCatalog:
    """Validate documents given as (path, text or UTF-8 bytes). `context_items` are items
    known from elsewhere (the served catalog) that bundles and templates may refer to;
    `last_good` are the served versions of items, standing in for those invalid now."""
    # Loading builds many small objects that all live until the end: pausing the cycle
    # collector meanwhile saves it from rescanning them again and again (~40% of the time).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _load(files, owners, context_items, last_good)
    finally:
        if paused:
            gc.enable()


def _load(
    files: Iterable[tuple[str, str | bytes]],
    owners: CodeOwners | None,
    context_items: Mapping[str, CatalogItem] | None,
    last_good: Mapping[str, CatalogItem] | None,
) -> LoadedCatalog:
    owners = owners or CodeOwners()
    context = dict(context_items or {})
    catalog = LoadedCatalog()
    candidates: list[_Candidate] = []
    others: list[_KindCandidate] = []
    for file, text in files:
        catalog.files += 1
        candidates.extend(_parse(file, text, catalog, others))

    first_seen: dict[str, _Candidate] = {}
    unique: list[_Candidate] = []
    for candidate in candidates:
        doc_id = candidate.document.metadata.id
        if doc_id in first_seen:
            earlier = first_seen[doc_id]
            where = f"{earlier.file}:{earlier.source.line_of(('metadata', 'id'))}"
            _report(
                catalog,
                candidate,
                [(("metadata", "id"), f"duplicate id '{doc_id}' (first in {where})")],
            )
            continue
        first_seen[doc_id] = candidate
        unique.append(candidate)

    own_items = {c.document.metadata.id for c in unique if isinstance(c.document, CatalogItem)}
    metadata = {
        item_id: item.metadata.model_dump(by_alias=True)
        for item_id, item in context.items()
        if item_id not in own_items
    }
    metadata.update(
        {
            c.document.metadata.id: c.document.metadata.model_dump(by_alias=True)
            for c in unique
            if isinstance(c.document, CatalogItem)
        }
    )
    valid_items: dict[str, CatalogItem] = {k: v for k, v in context.items() if k not in own_items}
    for candidate in unique:
        if isinstance(candidate.document, CatalogItem) and _report(
            catalog, candidate, item_findings(candidate.document, metadata)
        ):
            valid_items[candidate.document.metadata.id] = candidate.document
            catalog.items[candidate.document.metadata.id] = _entry(candidate, owners)
    # An item that broke in this commit stays served in its last good version, so bundles
    # built on it stay valid too.
    for item_id in catalog.rejected & set(last_good or {}):
        valid_items.setdefault(item_id, (last_good or {})[item_id])
    if catalog.unreadable:  # items of unreadable files are unknown now: keep the served ones
        for item_id, item in (last_good or {}).items():
            if item_id not in own_items:
                valid_items.setdefault(item_id, item)
    for candidate in unique:
        if isinstance(candidate.document, CatalogBundle):
            findings = bundle_findings(candidate.document, valid_items, metadata)
            if _report(catalog, candidate, findings):
                catalog.bundles[candidate.document.metadata.id] = _entry(candidate, owners)
    _load_kinds(catalog, others, owners)
    catalog.problems.sort(key=lambda p: (p.file, p.line))
    return catalog


def _load_kinds(catalog: LoadedCatalog, others: list[_KindCandidate], owners: CodeOwners) -> None:
    """Documents of registered kinds: unique ids per kind, whole-document rules checked."""
    first_seen: dict[tuple[str, str], _KindCandidate] = {}
    for candidate in others:
        kind, document, source = candidate.kind, candidate.document, candidate.source
        doc_id: str = document.metadata.id
        findings = list(kind.check(document)) if kind.check else []
        earlier = first_seen.get((kind.kind, doc_id))
        if earlier is not None:
            where = f"{earlier.file}:{earlier.source.line_of(('metadata', 'id'))}"
            findings = [(("metadata", "id"), f"duplicate id '{doc_id}' (first in {where})")]
        else:
            first_seen[(kind.kind, doc_id)] = candidate
        for path, message in findings:
            catalog.problems.append(
                Problem(candidate.file, source.line_of(path), format_path(path), message, doc_id)
            )
        if findings:
            _reject_kind(catalog, kind.kind, doc_id)
            continue
        owner = getattr(document.metadata, "owner", None) or owners.team_of(candidate.file)
        catalog.kinds.setdefault(kind.kind, {})[doc_id] = KindEntry(
            document=document,
            file=candidate.file,
            line=source.start_line,
            owner=owner,
            digest=digest(source.data),
            source=source,
        )


def _entry(candidate: _Candidate, owners: CodeOwners) -> Entry:
    document = candidate.document
    return Entry(
        document=document,
        file=candidate.file,
        line=candidate.source.start_line,
        owner=document.metadata.owner or owners.team_of(candidate.file),
        digest=digest(candidate.source.data),
    )
