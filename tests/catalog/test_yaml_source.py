"""yaml_source: YAML documents with the line of every key and list item, and problems
(syntax errors, duplicate keys, hostile files) reported at a line instead of raised."""

from __future__ import annotations

import time
from textwrap import dedent
from typing import Any

import pytest
import yaml

from loom.catalog.yaml_source import (
    MAX_DEPTH,
    MAX_NODES,
    SourceDocument,
    YamlProblem,
    format_path,
    load_documents,
)


def one(text: str) -> SourceDocument:
    documents = load_documents(dedent(text))
    assert len(documents) == 1, documents
    return documents[0]


def problem(text: str) -> YamlProblem:
    with pytest.raises(YamlProblem) as caught:
        load_documents(dedent(text))
    return caught.value


FORM = """\
    kind: CatalogItem
    spec:
      form:
        fields:
          - id: name
            type: string
          - id: size
            type: enum
            options: [small, large]
    """


def test_every_key_and_list_item_has_its_line() -> None:
    document = one(FORM)
    assert document.data["spec"]["form"]["fields"][1]["options"] == ["small", "large"]
    assert document.lines[("kind",)] == 1
    assert document.lines[("spec", "form", "fields")] == 4
    assert document.lines[("spec", "form", "fields", 0)] == 5
    assert document.lines[("spec", "form", "fields", 0, "type")] == 6
    assert document.lines[("spec", "form", "fields", 1)] == 7
    assert document.lines[("spec", "form", "fields", 1, "options")] == 9


def test_a_key_is_at_the_line_of_the_key_not_of_its_value() -> None:
    document = one(
        """\
        spec:
          form:

            fields: []
        """
    )
    assert document.lines[("spec",)] == 1
    assert document.lines[("spec", "form", "fields")] == 4


def test_line_of_a_missing_path_is_the_line_of_its_deepest_existing_part() -> None:
    document = one(FORM)
    assert document.line_of(("spec", "form", "fields", 1, "pattern")) == 7
    assert document.line_of(("spec", "form", "fields", 9, "id")) == 4
    assert document.line_of(("metadata", "name")) == document.start_line == 1


def test_each_document_of_a_file_has_its_own_lines() -> None:
    first, second = load_documents("a: 1\n---\nb:\n  c: 2\n")
    assert (first.data, first.start_line) == ({"a": 1}, 1)
    assert (second.data, second.start_line) == ({"b": {"c": 2}}, 3)
    assert second.lines[("b", "c")] == 4
    assert ("b", "c") not in first.lines


def test_empty_documents_are_skipped() -> None:
    documents = load_documents("---\n# nothing here yet\n---\na: 1\n---\n")
    assert [(d.data, d.start_line) for d in documents] == [({"a": 1}, 4)]
    assert load_documents("") == []
    assert load_documents("# only a comment\n") == []


def test_an_explicit_null_document_is_kept_for_the_loader_to_refuse() -> None:
    assert [d.data for d in load_documents("--- ~\n")] == [None]


def test_duplicate_key_is_reported_at_the_second_occurrence() -> None:
    found = problem(
        """\
        metadata:
          id: a
          name: A
          name: B
        """
    )
    assert (found.line, found.message) == (4, "duplicate key 'name'")


def test_duplicate_key_is_found_in_a_list_item() -> None:
    found = problem(
        """\
        fields:
          - id: a
          - id: b
            type: string
            id: c
        """
    )
    assert (found.line, found.message) == (5, "duplicate key 'id'")


def test_syntax_error_is_reported_at_its_line() -> None:
    found = problem(
        """\
        a: 1
        b: [1, 2
        c: 3
        """
    )
    assert found.line == 3
    assert found.message == "invalid YAML: did not find expected ',' or ']'"


def test_tab_indentation_is_a_syntax_error_at_its_line() -> None:
    found = problem("a:\n\tb: 1\n")
    assert found.line == 2
    assert found.message.startswith("invalid YAML: ")


def test_python_tags_on_values_are_refused() -> None:
    found = problem("a: 1\nb: !!python/name:os.system\n")
    assert found.line == 2
    assert "could not determine a constructor" in found.message


def test_tags_on_lists_and_mappings_are_refused_not_ignored() -> None:
    found = problem("a: 1\nb: !!python/object/apply:os.system [echo hi]\n")
    assert (found.line, found.message) == (
        2,
        "unsupported tag tag:yaml.org,2002:python/object/apply:os.system",
    )
    assert problem("a: !!set {x, y}\n").message == "unsupported tag tag:yaml.org,2002:set"
    assert one("a: !!map {x: 1}\nb: !!seq [1]\n").data == {"a": {"x": 1}, "b": [1]}


def test_merge_key_copies_the_anchored_mapping() -> None:
    document = one(
        """\
        defaults: &defaults
          type: string
          required: true
        field:
          <<: *defaults
          id: name
        """
    )
    assert document.data["field"] == {"type": "string", "required": True, "id": "name"}
    assert "<<" not in document.data["field"]
    assert document.lines[("field", "id")] == 6
    assert document.lines[("field", "type")] == 2  # where the merged value is written


def test_own_keys_override_merged_keys_without_being_duplicates() -> None:
    document = one(
        """\
        base: &base
          type: string
          required: true
        field:
          <<: *base
          required: false
        """
    )
    assert document.data["field"] == {"type": "string", "required": False}
    assert document.lines[("field", "required")] == 6


def test_an_earlier_merged_mapping_wins_over_a_later_one() -> None:
    document = one(
        """\
        first: &first
          name: from first
        second: &second
          name: from second
          other: only in second
        merged:
          <<: [*first, *second]
        """
    )
    assert document.data["merged"] == {"name": "from first", "other": "only in second"}
    assert document.lines[("merged", "name")] == 2


def test_merging_a_scalar_is_a_problem() -> None:
    found = problem("a: &a 5\nb:\n  <<: *a\n")
    assert found.line == 3
    assert "merge" in found.message


def test_a_list_as_a_key_is_a_problem() -> None:
    found = problem(
        """\
        name: x
        ? [a, b]
        : 1
        """
    )
    assert (found.line, found.message) == (2, "mapping keys must be scalars")


def test_scalar_keys_other_than_text_are_kept() -> None:
    assert one("2: two\n0.5: half\ntrue: t\n").data == {2: "two", 0.5: "half", True: "t"}


def test_an_alias_inside_its_own_value_is_a_problem_not_a_crash() -> None:
    found = problem("a: &loop\n  - *loop\n")
    assert found.message == "an alias refers to a value that contains it"


def test_an_alias_bomb_is_refused_quickly() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        levels.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    started = time.monotonic()
    found = problem("\n".join(levels) + "\n")  # 10**9 values once expanded
    assert found.message == f"document too large (over {MAX_NODES} values)"
    assert time.monotonic() - started < 5


def test_deep_nesting_is_refused_not_a_crash() -> None:
    depth = MAX_DEPTH + 50
    found = problem("a: " + "[" * depth + "]" * depth + "\n")
    assert found.message == f"document nested too deeply (over {MAX_DEPTH} levels)"


def test_a_realistic_nesting_depth_is_fine() -> None:
    depth = 20
    data = one("a: " + "[" * depth + "1" + "]" * depth + "\n").data["a"]
    for _ in range(depth - 1):
        data = data[0]
    assert data == [1]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("kind",), "kind"),
        (("spec", "form", "fields", 2, "pattern"), "spec.form.fields[2].pattern"),
        (("spec", "components", 0, "dependsOn", 1), "spec.components[0].dependsOn[1]"),
        ((0, "id"), "[0].id"),
    ],
)
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


def _sample_texts() -> list[tuple[str, str]]:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples"
    return [(str(p.relative_to(root)), p.read_text()) for p in sorted(root.rglob("*.yaml"))]


@pytest.mark.parametrize(("name", "text"), _sample_texts(), ids=lambda v: v if "/" in v else "")
def test_event_paths_match_the_node_path(name: str, text: str) -> None:
    """Plain documents are read from parse events, their lines only when asked for; the
    result must be exactly what the general node-tree reader gives (data, start lines and
    every path's line), and so must the problems."""
    from loom.catalog import yaml_source

    try:
        slow = yaml_source._node_documents(text)
    except yaml_source.YamlProblem as problem:
        with pytest.raises(yaml_source.YamlProblem) as fast_problem:
            yaml_source.load_documents(text)
        assert (fast_problem.value.line, fast_problem.value.message) == (
            problem.line,
            problem.message,
        )
        return
    fast = yaml_source.load_documents(text)
    assert [(d.data, d.start_line, d.lines) for d in fast] == [
        (d.data, d.start_line, d.lines) for d in slow
    ]


def test_lines_are_read_once_per_file_when_first_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from loom.catalog import yaml_source

    first, second = load_documents("a: 1\n---\nb:\n  c: [x, y]\n")
    reads: list[str] = []
    real = yaml_source._event_documents

    def counting(text: str, *args: Any) -> list[SourceDocument]:
        reads.append(text)
        return real(text, *args)

    monkeypatch.setattr(yaml_source, "_event_documents", counting)
    assert second.line_of(("b", "c", 1)) == 4
    assert first.lines == {(): 1, ("a",): 1}
    assert len(reads) == 1


def test_typed_scalars_resolve_as_yaml_1_1_every_time() -> None:
    text = "a: [yes, No, on, 0x1F, 0o17, 017, 1_000, 190:20:30, 1.5, .inf, ~, 2024-01-31, 1.2.3]\n"
    expected = [True, False, True, 31, "0o17", 15, 1000, 685230, 1.5, float("inf"), None]
    for _ in range(2):  # the second time from the resolved-scalar cache
        values = one(text).data["a"]
        assert values[:11] == expected
        assert str(values[11]) == "2024-01-31" and values[12] == "1.2.3"
        assert values == yaml.load(text, Loader=yaml.SafeLoader)["a"]


def test_the_text_shortcut_knows_every_word_yaml_1_1_types() -> None:
    """Plain scalars that start with a letter are taken as text without the resolver
    unless they are one of a few words: those must be exactly the words the resolver's
    letter-keyed patterns (booleans and null) accept."""
    import re

    from loom.catalog import yaml_source

    words = set()
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items():
        if first and first.isalpha():
            for _tag, pattern in resolvers:
                body = re.sub(r"\s", "", pattern.pattern).removeprefix("^(?:").removesuffix(")$")
                words.update(w for w in body.split("|") if w[:1] == first)
    assert words == yaml_source._TYPED_WORDS
    for word in words:
        assert one(f"a: {word}\n").data["a"] in (True, False, None)
    assert one("a: [yess, Nope, nulls, tRUE, onward]\n").data["a"] == [
        "yess", "Nope", "nulls", "tRUE", "onward",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "text",
    ["base: &b {x: 1}\nother: *b\n", "a: !!str 12\n", "<<: {x: 1}\ny: 2\n", "a: &x 1\n"],
    ids=["alias", "explicit-tag", "merge-key", "anchor"],
)
def test_unusual_documents_take_the_node_path(text: str) -> None:
    from loom.catalog import yaml_source

    for builder in (yaml_source._DataBuilder, yaml_source._LineBuilder):
        with pytest.raises(yaml_source._NeedsNodes):
            yaml_source._event_documents(text, builder)
    assert yaml_source.load_documents(text)[0].data == yaml_source._node_documents(text)[0].data
