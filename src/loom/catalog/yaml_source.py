"""Reading YAML documents with the line of every key and item, so that a problem at
`spec.form.fields[2].pattern` can be reported as `file.yaml:14`.

Lines are worked out when first asked for: most documents of a catalog are valid and
never need them, and recording the line of every path took a third of a catalog load.
A document with a problem has its file read again with line tracking (the same parse
events, so the same documents in the same order)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]
#: libyaml's parser when the wheel has it (it does on the usual platforms): ~10x faster.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: What the event paths need of it: the bare parser (no constructor or resolver to set up
#: for each file).
_PARSER: Any = getattr(getattr(yaml, "cyaml", None), "CParser", yaml.SafeLoader)
#: Bounds on one document, so that a hostile file (posted to /tools/validate, say) cannot
#: exhaust memory with nested aliases ("billion laughs") or the stack with deep nesting.
MAX_NODES = 100_000
MAX_DEPTH = 100


class YamlProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class SourceDocument:
    """One YAML document of a file: its data and the 1-based line of each path in it."""

    __slots__ = ("_file", "_index", "_lines", "data", "start_line")

    def __init__(
        self,
        data: Any,
        start_line: int,
        lines: dict[Path, int] | None = None,
        file: _FileLines | None = None,
        index: int = 0,
    ) -> None:
        self.data = data
        self.start_line = start_line
        self._lines = lines
        # Where to work the lines out from when they are not given: the file's text and
        # which of its documents this is.
        self._file = file
        self._index = index

    @property
    def lines(self) -> dict[Path, int]:
        if self._lines is None:
            self._lines = self._file.lines(self._index) if self._file else {}
        return self._lines

    def line_of(self, path: Path) -> int:
        """The line of the deepest part of `path` that exists in the source."""
        lines = self.lines
        for end in range(len(path), -1, -1):
            line = lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return self.start_line

    def __repr__(self) -> str:
        return f"SourceDocument(data={self.data!r}, start_line={self.start_line})"


class _FileLines:
    """The text of a file whose documents were read without lines: read once more, with
    them, for the first of its documents that needs them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._maps: list[dict[Path, int]] | None = None

    def lines(self, index: int) -> dict[Path, int]:
        if self._maps is None:
            self._maps = [d.lines for d in _event_documents(self.text, _LineBuilder)]
        return self._maps[index]


def load_documents(text: str) -> list[SourceDocument]:
    """Every document in `text` (several per file allowed, `---` separated).

    Raises YamlProblem with the line of the first syntax error or duplicate key.
    """
    try:
        return _event_documents(text, _DataBuilder, _FileLines(text))
    except _NeedsNodes:
        return _node_documents(text)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_problem(exc) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"invalid YAML: {exc}") from None


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _syntax_problem(exc: yaml.MarkedYAMLError) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    return YamlProblem(line, f"invalid YAML: {exc.problem or exc.context}")


# --- From parse events ---------------------------------------------------------------
# Catalog documents almost never use anchors, aliases, merge keys or explicit tags. For
# those that don't, data (and lines, when asked) are built straight from libyaml's parse
# events, about twice as fast as building PyYAML's node tree first. Anything unusual
# falls back to the node path below, which handles (and bounds) every YAML feature.


class _NeedsNodes(Exception):
    """The document uses a feature only the node path handles."""


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: YAML 1.1 (as PyYAML resolves it) types a plain scalar by its first character: one of
#: these may make it a number, a date, null...
_MAYBE_TYPED = frozenset(
    c for c in yaml.resolver.Resolver.yaml_implicit_resolvers if c and not c.isalpha()
)
#: ... while one starting with a letter is text unless it is one of these words.
_TYPED_WORDS = frozenset(
    {
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False",
        "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
    }
)  # fmt: skip
_RESOLVER = _LOADER("")
_SCALARS = SafeConstructor()
#: Plain scalars that may be typed (`42`, `true`, `1.2.3`...), resolved as YAML 1.1 says,
#: by text: the values are immutable, so one object serves every occurrence.
_typed: dict[str, Any] = {}
_TYPED_CACHE_SIZE = 4096


def _scalar(event: Any) -> Any:
    if event.anchor is not None or event.tag not in (None, "!"):
        raise _NeedsNodes
    value = event.value
    if not event.implicit[0] or (
        value and value[0] not in _MAYBE_TYPED and value not in _TYPED_WORDS
    ):
        return value  # quoted, or plain text that cannot be anything else
    try:
        return _typed[value]
    except KeyError:
        pass
    tag = _RESOLVER.resolve(ScalarNode, value, (True, False))
    if tag == _MERGE_TAG:
        raise _NeedsNodes
    if tag == _STR_TAG:
        typed: Any = value
    else:
        node = ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        typed = _SCALARS.construct_object(node, deep=True)
    if len(_typed) >= _TYPED_CACHE_SIZE:
        _typed.clear()
    _typed[value] = typed
    return typed


def _plain(event: Any) -> bool:
    """A plain, untagged, unanchored scalar that can only be text (the common case)."""
    text = event.value
    return bool(
        text and text[0] not in _MAYBE_TYPED and text not in _TYPED_WORDS and event.implicit[0]
        and event.tag is None and event.anchor is None
    )  # fmt: skip


class _DataBuilder:
    """Data of one document from parse events, no lines: the hot loop of a catalog load
    (scalars in mappings, the common case, are handled inline)."""

    def __init__(self, next_event: Callable[[], Any]) -> None:
        self.next_event = next_event
        self.count = 0

    def document(self, first: Any) -> tuple[Any, dict[Path, int] | None]:
        return self.value(first, 0), None

    def value(self, event: Any, depth: int) -> Any:
        self.count += 1
        kind = event.__class__
        if kind is ScalarEvent:
            return _scalar(event)
        _check_collection(event, self.count, depth)
        if kind is SequenceStartEvent:
            items: list[Any] = []
            next_event, value = self.next_event, self.value
            while (item := next_event()).__class__ is not SequenceEndEvent:
                items.append(value(item, depth + 1))
            return items
        return self._mapping(depth)

    def _mapping(self, depth: int) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        next_event, typed, words = self.next_event, _MAYBE_TYPED, _TYPED_WORDS
        while (key_event := next_event()).__class__ is not MappingEndEvent:
            text = key_event.value if key_event.__class__ is ScalarEvent else None
            if (
                text and text[0] not in typed and text not in words and key_event.implicit[0]
                and key_event.tag is None and key_event.anchor is None
            ):  # fmt: skip
                key: Any = text
            else:
                key = _key(key_event)
            if key in mapping:
                raise YamlProblem(key_event.start_mark.line + 1, f"duplicate key {key!r}")
            event = next_event()
            if event.__class__ is ScalarEvent:
                self.count += 1
                text = event.value
                if (
                    text and text[0] not in typed and text not in words and event.implicit[0]
                    and event.tag is None and event.anchor is None
                ):  # fmt: skip
                    mapping[key] = text
                else:
                    mapping[key] = _scalar(event)
            else:
                mapping[key] = self.value(event, depth + 1)
        return mapping


class _LineBuilder:
    """Data and the line of every path of one document from parse events."""

    def __init__(self, next_event: Callable[[], Any]) -> None:
        self.next_event = next_event
        self.lines: dict[Path, int] = {}
        self.count = 0

    def document(self, first: Any) -> tuple[Any, dict[Path, int] | None]:
        return self.value(first, ()), self.lines

    def value(self, event: Any, path: Path) -> Any:
        self.lines[path] = event.start_mark.line + 1
        self.count += 1
        kind = event.__class__
        if kind is ScalarEvent:
            return _scalar(event)
        _check_collection(event, self.count, len(path))
        if kind is SequenceStartEvent:
            items: list[Any] = []
            while (item := self.next_event()).__class__ is not SequenceEndEvent:
                items.append(self.value(item, (*path, len(items))))
            return items
        mapping: dict[Any, Any] = {}
        while (key_event := self.next_event()).__class__ is not MappingEndEvent:
            key = key_event.value if _plain(key_event) else _key(key_event)
            if key in mapping:
                raise YamlProblem(key_event.start_mark.line + 1, f"duplicate key {key!r}")
            child = (*path, key if key.__class__ is str else str(key))
            mapping[key] = self.value(self.next_event(), child)
            self.lines[child] = key_event.start_mark.line + 1
        return mapping


def _key(event: Any) -> Any:
    key = _scalar(event) if event.__class__ is ScalarEvent else None
    if not isinstance(key, str | int | float | bool):
        raise YamlProblem(event.start_mark.line + 1, "mapping keys must be scalars")
    return key


def _check_collection(event: Any, count: int, depth: int) -> None:
    line = event.start_mark.line + 1
    if count > MAX_NODES:
        raise YamlProblem(line, f"document too large (over {MAX_NODES} values)")
    if depth > MAX_DEPTH:
        raise YamlProblem(line, f"document nested too deeply (over {MAX_DEPTH} levels)")
    kind = event.__class__
    if kind is AliasEvent or event.anchor is not None or event.tag not in (None, "!"):
        raise _NeedsNodes
    if kind is not SequenceStartEvent and kind is not MappingStartEvent:
        raise _NeedsNodes  # an event the builders do not expect


def _event_documents(
    text: str,
    builder: type[_DataBuilder] | type[_LineBuilder],
    file: _FileLines | None = None,
) -> list[SourceDocument]:
    documents: list[SourceDocument] = []
    parser = _PARSER(text)
    try:
        next_event = parser.get_event
        while (event := next_event()).__class__ is not StreamEndEvent:
            if event.__class__ is not DocumentStartEvent:
                continue
            first = next_event()
            if first.__class__ is ScalarEvent and first.value == "" and first.implicit[0]:
                continue  # `---` with nothing after it
            data, lines = builder(next_event).document(first)
            start = first.start_mark.line + 1
            documents.append(SourceDocument(data, start, lines, file, len(documents)))
    finally:
        parser.dispose()
    return documents


# --- From the node tree --------------------------------------------------------------

_NULL_TAG = "tag:yaml.org,2002:null"
_COLLECTION_TAGS = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")


class _Builder:
    """Python data of one document's node tree, recording the line of every path."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self.constructor = SafeConstructor()
        self.nodes = 0
        self.active: set[int] = set()  # ids of the nodes being built (alias loops)

    def build(self, node: Node, path: Path) -> Any:
        line = node.start_mark.line + 1
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlProblem(line, f"document too large (over {MAX_NODES} values)")
        if len(path) > MAX_DEPTH:
            raise YamlProblem(line, f"document nested too deeply (over {MAX_DEPTH} levels)")
        if id(node) in self.active:
            raise YamlProblem(line, "an alias refers to a value that contains it")
        self.lines[path] = line
        if isinstance(node, ScalarNode):
            return self.constructor.construct_object(node, deep=True)
        if node.tag not in _COLLECTION_TAGS:  # e.g. `!!python/object/apply:os.system [..]`
            raise YamlProblem(line, f"unsupported tag {node.tag}")
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            return self._mapping(node, path)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        # `<<:` merge keys: an earlier merged mapping wins over a later one, and the
        # mapping's own keys win over merged ones (they are not duplicates).
        sources: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                many = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                sources.extend((key_node, source) for source in many)
        merged: dict[Any, Any] = {}
        for key_node, source in reversed(sources):  # so the lines of the winners stay
            if not isinstance(source, MappingNode):
                raise YamlProblem(key_node.start_mark.line + 1, "a merge key (<<) takes mappings")
            merged.update(self.build(source, path))
        self.lines[path] = node.start_mark.line + 1
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                raise YamlProblem(key_node.start_mark.line + 1, "mapping keys must be scalars")
            if key in result:
                raise YamlProblem(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            child = (*path, str(key))
            result[key] = self.build(value_node, child)
            self.lines[child] = key_node.start_mark.line + 1
        return {**{k: v for k, v in merged.items() if k not in result}, **result}


def _node_documents(text: str) -> list[SourceDocument]:
    """The general path over PyYAML's node tree: anchors, aliases, merge keys, tags."""
    documents: list[SourceDocument] = []
    try:
        for node in yaml.compose_all(text, Loader=_LOADER):
            if node is None or _is_empty(node):  # `---` with nothing after it
                continue
            builder = _Builder()
            data = builder.build(node, ())
            documents.append(SourceDocument(data, node.start_mark.line + 1, builder.lines))
    except yaml.MarkedYAMLError as exc:
        raise _syntax_problem(exc) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"invalid YAML: {exc}") from None
    return documents


def _is_empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG and node.value == ""
