"""Reading YAML documents while remembering the line of every key and item, so that a
problem at `spec.form.fields[2].pattern` can be reported as `file.yaml:14`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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


class YamlProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class SourceDocument:
    """One YAML document of a file: its data and the 1-based line of each path in it."""

    data: Any
    start_line: int
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int:
        """The line of the deepest part of `path` that exists in the source."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return self.start_line


class _Constructor(SafeConstructor):
    pass


_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
_COLLECTION_TAGS = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")
#: Bounds on one document, so that a hostile file (posted to /tools/validate, say) cannot
#: exhaust memory with nested aliases ("billion laughs") or the stack with deep nesting.
MAX_NODES = 100_000
MAX_DEPTH = 100


class _Builder:
    """Python data of one document's node tree, recording the line of every path."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self.constructor = _Constructor()
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


def load_documents(text: str) -> list[SourceDocument]:
    """Every document in `text` (several per file allowed, `---` separated).

    Raises YamlProblem with the line of the first syntax error or duplicate key.
    """
    try:
        return _fast_documents(text)
    except _NeedsNodes:
        return _node_documents(text)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_problem(exc) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"invalid YAML: {exc}") from None


def _syntax_problem(exc: yaml.MarkedYAMLError) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    return YamlProblem(line, f"invalid YAML: {exc.problem or exc.context}")


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


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- The fast path -------------------------------------------------------------------
# Catalog documents almost never use anchors, aliases, merge keys or explicit tags. For
# those that don't, data and lines are built straight from libyaml's parse events, about
# twice as fast as building PyYAML's node tree first. Anything unusual falls back to the
# node path above, which handles (and bounds) every YAML feature.


class _NeedsNodes(Exception):
    """The document uses a feature only the node path handles."""


_STR_TAG = "tag:yaml.org,2002:str"
#: Plain scalars starting with anything else can only resolve to strings.
_MAYBE_TYPED = frozenset("0123456789+-.~yYnNtTfFoO<=")
_RESOLVER = _LOADER("")
_SCALARS = SafeConstructor()
_resolved: dict[str, str] = {}


def _scalar(event: Any) -> Any:
    if event.anchor is not None or event.tag not in (None, "!"):
        raise _NeedsNodes
    if not event.implicit[0]:  # quoted: always text
        return event.value
    value = event.value
    if value and value[0] not in _MAYBE_TYPED:
        return value
    tag = _resolved.get(value)
    if tag is None:
        tag = _resolved[value] = _RESOLVER.resolve(ScalarNode, value, (True, False))
    if tag == _STR_TAG:
        return value
    if tag == _MERGE_TAG:
        raise _NeedsNodes
    node = ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
    return _SCALARS.construct_object(node, deep=True)


class _EventBuilder:
    """Data and lines of one document from parse events (the hot loop of a catalog load:
    scalars in mappings, the common case, are handled inline)."""

    def __init__(self, next_event: Callable[[], Any]) -> None:
        self.next_event = next_event
        self.lines: dict[Path, int] = {}
        self.count = 0

    def value(self, event: Any, path: Path) -> Any:
        line = event.start_mark.line + 1
        self.lines[path] = line
        self.count += 1
        if event.__class__ is ScalarEvent:
            return _scalar(event)
        if self.count > MAX_NODES:
            raise YamlProblem(line, f"document too large (over {MAX_NODES} values)")
        if len(path) > MAX_DEPTH:
            raise YamlProblem(line, f"document nested too deeply (over {MAX_DEPTH} levels)")
        kind = event.__class__
        if kind is AliasEvent or event.anchor is not None or event.tag not in (None, "!"):
            raise _NeedsNodes
        if kind is SequenceStartEvent:
            return self._sequence(path)
        if kind is MappingStartEvent:
            return self._mapping(path)
        raise _NeedsNodes  # an event this builder does not expect

    def _sequence(self, path: Path) -> list[Any]:
        items: list[Any] = []
        next_event = self.next_event
        while (event := next_event()).__class__ is not SequenceEndEvent:
            items.append(self.value(event, (*path, len(items))))
        return items

    def _mapping(self, path: Path) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        lines, next_event = self.lines, self.next_event
        typed = _MAYBE_TYPED
        while (key_event := next_event()).__class__ is not MappingEndEvent:
            key_line = key_event.start_mark.line + 1
            if key_event.__class__ is not ScalarEvent:
                raise YamlProblem(key_line, "mapping keys must be scalars")
            text = key_event.value
            # The common case inline: a plain key that can only be text.
            if (
                text and text[0] not in typed and key_event.implicit[0]
                and key_event.tag is None and key_event.anchor is None
            ):  # fmt: skip
                key: Any = text
            else:
                key = _scalar(key_event)
                if not isinstance(key, str | int | float | bool):
                    raise YamlProblem(key_line, "mapping keys must be scalars")
            if key in mapping:
                raise YamlProblem(key_line, f"duplicate key {key!r}")
            child = (*path, key if key.__class__ is str else str(key))
            event = next_event()
            if event.__class__ is ScalarEvent:
                self.count += 1
                text = event.value
                if (
                    text and text[0] not in typed and event.implicit[0]
                    and event.tag is None and event.anchor is None
                ):  # fmt: skip
                    mapping[key] = text
                else:
                    mapping[key] = _scalar(event)
            else:
                mapping[key] = self.value(event, child)
            lines[child] = key_line
        return mapping


def _fast_documents(text: str) -> list[SourceDocument]:
    documents: list[SourceDocument] = []
    parser = _LOADER(text)
    try:
        next_event = parser.get_event
        while (event := next_event()).__class__ is not StreamEndEvent:
            if event.__class__ is not DocumentStartEvent:
                continue
            first = next_event()
            if first.__class__ is ScalarEvent and first.value == "" and first.implicit[0]:
                continue  # `---` with nothing after it
            builder = _EventBuilder(next_event)
            data = builder.value(first, ())
            documents.append(SourceDocument(data, first.start_mark.line + 1, builder.lines))
    finally:
        parser.dispose()
    return documents
