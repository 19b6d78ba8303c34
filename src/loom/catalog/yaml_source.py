"""Reading YAML documents while remembering the line of every key and item, so that a
problem at `spec.form.fields[2].pattern` can be reported as `file.yaml:14`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
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


def _to_python(node: Node, path: Path, lines: dict[Path, int], constructor: _Constructor) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, MappingNode):
        constructor.flatten_mapping(node)  # resolves `<<:` merge keys
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                raise YamlProblem(key_node.start_mark.line + 1, "mapping keys must be scalars")
            if key in result:
                raise YamlProblem(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            child = (*path, str(key))
            lines[child] = key_node.start_mark.line + 1
            result[key] = _to_python(value_node, child, lines, constructor)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, SequenceNode):
        return [
            _to_python(item, (*path, i), lines, constructor) for i, item in enumerate(node.value)
        ]
    assert isinstance(node, ScalarNode)
    return constructor.construct_object(node, deep=True)


def load_documents(text: str) -> list[SourceDocument]:
    """Every document in `text` (several per file allowed, `---` separated).

    Raises YamlProblem with the line of the first syntax error or duplicate key.
    """
    documents: list[SourceDocument] = []
    try:
        for node in yaml.compose_all(text, Loader=_LOADER):
            if node is None:
                continue
            lines: dict[Path, int] = {}
            constructor = _Constructor()
            data = _to_python(node, (), lines, constructor)
            documents.append(SourceDocument(data, node.start_mark.line + 1, lines))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlProblem(line, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"invalid YAML: {exc}") from None
    return documents


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
