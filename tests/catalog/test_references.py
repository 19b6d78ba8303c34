"""references: the variables templates refer to, checked when the catalog loads, and the
hook through which the provisioning engine replaces the checker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loom.catalog import references as refs
from loom.catalog.documents import CatalogItem
from loom.catalog.references import (
    TemplateScope,
    check_references,
    check_template,
    references,
    set_template_checker,
    strings_in,
)
from loom.catalog.rules import item_findings

SCOPE = TemplateScope(
    current={"name", "db", "db.engine"},
    outputs={"ticket_key"},
    metadata={"postgres": {"id": "postgres", "name": "PostgreSQL", "custom": {"tier": "gold"}}},
)


def check(template: str) -> list[str]:
    return check_references(template, SCOPE)


@pytest.mark.parametrize(
    ("template", "found"),
    [
        ("{{.current.name}}", [("current", "name")]),
        ("{{ .current.db.engine }}", [("current", "db.engine")]),
        ("{{ .output.ticket_key }}", [("output", "ticket_key")]),
        ("{{ .metadata.web-service.custom.tier }}", [("metadata", "web-service.custom.tier")]),
        ("{{ .system.user.email }}", [("system", "user.email")]),
        ("{{ .current.name | upper }}", [("current", "name")]),
        ('{{ .current.name | printf "%s.x" }}', [("current", "name")]),
        ('{{ printf "%s .output.x" .current.name }}', [("current", "name")]),
        ("{{- .current.name -}}", [("current", "name")]),
        ("{{ $.current.name }}", [("current", "name")]),
        ("a-{{ .current.name }}-{{ .output.url }}", [("current", "name"), ("output", "url")]),
        ("{{ if .current.a }}{{ .current.b }}{{ end }}", [("current", "a"), ("current", "b")]),
        ("{{ .current }}", [("current", "")]),
        ("{{ .Values.x }}", [("Values", "x")]),
    ],
)
def test_references_are_found_in_expressions(template: str, found: list[tuple[str, str]]) -> None:
    assert list(references(template)) == found


@pytest.mark.parametrize(
    "template",
    [
        "no template at all",
        "a literal .current.name outside braces",
        '{{ "quoted .current.name" }}',
        '{{ "escaped \\" .current.name" }}',
        "{{ `raw .current.name` }}",
        "{{ 'x.current' }}",
        "{{ $var.field }}",
        "{{ 1.5 }}",
        "{{ unclosed .current.name",
    ],
)
def test_text_without_references(template: str) -> None:
    assert list(references(template)) == []


def test_known_references_pass() -> None:
    assert check("{{ .current.name }} {{ .current.db }} {{ .current.db.engine | lower }}") == []
    assert check("{{ .output.ticket_key }}") == []
    assert check("{{ .metadata.postgres }} {{ .metadata.postgres.name }}") == []
    assert check("{{ .metadata.postgres.custom }} {{ .metadata.postgres.custom.tier }}") == []
    assert check("{{ .system.requestId }} {{ .system.user.teams }}") == []
    assert check("{{ .system.platform.environment }}") == []


def test_current_to_a_missing_field() -> None:
    assert check("{{ .current.nmae }}") == [".current.nmae: no form field 'nmae'"]
    assert check("{{ .current.db.egnine }}") == [".current.db.egnine: no form field 'db.egnine'"]


def test_output_not_produced_before() -> None:
    assert check("{{ .output.url }}") == [".output.url: no earlier action produces output 'url'"]


def test_metadata_of_unknown_item_or_field() -> None:
    assert check("{{ .metadata.mysql.name }}") == [".metadata.mysql.name: no catalog item 'mysql'"]
    assert check("{{ .metadata.postgres.colour }}") == [
        ".metadata.postgres.colour: items have no metadata field 'colour'"
    ]
    assert check("{{ .metadata.postgres.custom.sla }}") == [
        ".metadata.postgres.custom.sla: item 'postgres' has no custom field 'sla'"
    ]


def test_unknown_system_value() -> None:
    (problem,) = check("{{ .system.user.phone }}")
    assert problem.startswith(".system.user.phone: unknown system value (known: ")
    assert "user.email" in problem


def test_unknown_namespace() -> None:
    assert check("{{ .Values.name }}") == [
        ".Values.name: unknown namespace (use one of current, output, metadata, system)"
    ]


def test_a_bare_namespace_must_name_a_value() -> None:
    assert check("{{ .current }}") == [".current: name a value inside the namespace"]


def test_every_problem_of_a_template_is_reported() -> None:
    assert check("{{ .current.a }}/{{ .output.b }}") == [
        ".current.a: no form field 'a'",
        ".output.b: no earlier action produces output 'b'",
    ]


def test_strings_in_finds_every_string_with_its_path() -> None:
    config = {"url": "u", "headers": {"X": "h"}, "json": {"list": [1, "s", {"k": "v"}]}, "n": 5}
    assert list(strings_in(config)) == [
        (("url",), "u"),
        (("headers", "X"), "h"),
        (("json", "list", 1), "s"),
        (("json", "list", 2, "k"), "v"),
    ]
    assert list(strings_in("top")) == [((), "top")]
    assert list(strings_in(None)) == []


# -- the hook -------------------------------------------------------------------------------


@pytest.fixture
def restore_checker() -> Iterator[None]:
    original = refs._checker
    try:
        yield
    finally:
        set_template_checker(original)


def test_set_template_checker_replaces_the_checker(restore_checker: None) -> None:
    seen: list[tuple[str, TemplateScope]] = []

    def engine_checker(template: str, scope: TemplateScope) -> list[str]:
        seen.append((template, scope))
        return ["from the engine"] if "bad" in template else []

    set_template_checker(engine_checker)
    assert check_template("{{ .current.nmae }}", SCOPE) == []  # default would object
    assert check_template("bad", SCOPE) == ["from the engine"]
    assert seen == [("{{ .current.nmae }}", SCOPE), ("bad", SCOPE)]


def test_the_catalog_rules_go_through_the_installed_checker(restore_checker: None) -> None:
    item = CatalogItem.model_validate(
        {
            "apiVersion": "loom/v1",
            "kind": "CatalogItem",
            "metadata": {"id": "x", "name": "X", "category": "c"},
            "spec": {
                "fulfillment": {
                    "actions": [
                        {
                            "id": "t",
                            "type": "jira-ticket",
                            "config": {"project": "P", "summary": "{{ .current.name | bad }}"},
                        }
                    ]
                }
            },
        }
    )
    # The variable engine is installed (at import of loom.catalog): it knows the pipes too.
    assert [m for _, m in item_findings(item, {})] == [
        "unknown pipe 'bad' (known: b64encode, date, default, join, json, lower, replace, "
        "slug, trim, truncate, upper, yaml)",
    ]
    set_template_checker(lambda t, scope: [f"engine: {t}"] if "{{" in t else [])
    assert list(item_findings(item, {})) == [
        (
            ("spec", "fulfillment", "actions", 0, "config", "summary"),
            "engine: {{ .current.name | bad }}",
        )
    ]


def test_the_default_checker_is_back_after_the_hook_tests() -> None:
    assert check_template("{{ .current.nmae }}", SCOPE) == [".current.nmae: no form field 'nmae'"]


def test_references_in_statements_are_checked_too() -> None:
    scope = TemplateScope(current={"name"}, outputs=set())
    problems = check_references("{% if .current.nope %}x{% endif %}{{ .current.name }}", scope)
    assert problems == [".current.nope: no form field 'nope'"]
