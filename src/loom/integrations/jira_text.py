"""Ticket text in the two formats JIRA takes: wiki markup (REST v2, a string) and the
Atlassian Document Format (REST v3, a JSON document). A text is a list of blocks —
paragraphs, a two-column table, a link — written once and rendered for either version."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

EMPTY_CELL = "—"
_WIKI_SPECIAL = re.compile(r"([|\[\]{}])")


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, str]
    rows: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Link:
    label: str
    href: str


Block = Paragraph | Table | Link


def render(blocks: Sequence[Block], api_version: Literal["2", "3"]) -> str | dict[str, Any]:
    """The description value for a REST v2 (wiki markup) or v3 (ADF) create call."""
    if api_version == "3":
        return {"type": "doc", "version": 1, "content": [_adf(block) for block in blocks]}
    return "\n\n".join(_wiki(block) for block in blocks)


def plain(text: str, api_version: Literal["2", "3"]) -> str | dict[str, Any]:
    """Text a catalog author wrote: as is for v2; for v3 one ADF paragraph per
    blank-line-separated part, its single line breaks kept."""
    if api_version == "2":
        return text
    parts = [part for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    return render([Paragraph(part) for part in parts], "3")


def form_rows(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Form values as (field path, readable value) rows; groups become dotted paths."""
    rows: list[tuple[str, str]] = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(form_rows(value, path + "."))
        else:
            rows.append((path, readable(value)))
    return rows


def readable(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY_CELL
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(not isinstance(v, Mapping | list) for v in value):
        return ", ".join(readable(v) for v in value)
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _wiki(block: Block) -> str:
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Link):
        return f"[{_wiki_escape(block.label)}|{block.href}]"
    lines = [f"||{_wiki_cell(block.header[0])}||{_wiki_cell(block.header[1])}||"]
    lines += [f"|{_wiki_cell(name)}|{_wiki_cell(value)}|" for name, value in block.rows]
    return "\n".join(lines)


def _wiki_cell(text: str) -> str:
    # A line break would end the table row; `\\` is wiki markup's line break.
    return " \\\\ ".join(_wiki_escape(line) for line in (text or EMPTY_CELL).splitlines())


def _wiki_escape(text: str) -> str:
    return _WIKI_SPECIAL.sub(r"\\\1", text)


def _adf(block: Block) -> dict[str, Any]:
    if isinstance(block, Paragraph):
        return _adf_paragraph(block.text)
    if isinstance(block, Link):
        mark = {"type": "link", "attrs": {"href": block.href}}
        return {"type": "paragraph", "content": [_adf_text(block.label, [mark])]}
    header = {"type": "tableRow", "content": [_adf_cell("tableHeader", t) for t in block.header]}
    rows = [
        {"type": "tableRow", "content": [_adf_cell("tableCell", t) for t in row]}
        for row in block.rows
    ]
    return {"type": "table", "content": [header, *rows]}


def _adf_cell(kind: str, text: str) -> dict[str, Any]:
    return {"type": kind, "content": [_adf_paragraph(text or EMPTY_CELL)]}


def _adf_paragraph(text: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines()):
        if n:
            content.append({"type": "hardBreak"})
        if line:  # ADF refuses empty text nodes
            content.append(_adf_text(line))
    return {"type": "paragraph", "content": content}


def _adf_text(text: str, marks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = marks
    return node
