"""templating: the `{{ .namespace.path }}` language — syntax, the four namespaces, pipes,
output formatting, missing values, "known after task N" placeholders, validation
messages, the sandbox and its limits, and the catalog hook."""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from loom.actions.builtin import RestApiConfig
from loom.actions.registry import action_types
from loom.catalog import references
from loom.catalog.documents import CatalogBundle, CatalogItem, FormField
from loom.catalog.form_input import check_value
from loom.catalog.forms import field_paths
from loom.catalog.loader import LoadedCatalog, load_directory
from loom.catalog.references import TemplateScope, check_references, strings_in
from loom.provisioning import templating
from loom.provisioning.templating import (
    Limits,
    ParseError,
    Pending,
    RenderError,
    Variables,
    check,
    parse,
    pipes,
    render,
    render_config,
    resolve,
    sandbox,
    system_values,
    transform,
    validate,
    validation,
)

NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
SYSTEM = system_values(
    request_id="req-1",
    correlation_id="corr-1",
    timestamp=NOW,
    user_email="dev@acme.example",
    user_name="Dev Eloper",
    user_teams=["payments", "checkout"],
    region="eu-west-1",
    environment="production",
    callback_url="https://loom.example/api/v1/callbacks/t0ken",  # a callback task's
)
VARIABLES = Variables(
    current={
        "name": "Orders API",
        "replicas": 3,
        "public": True,
        "tags": ["web", "pci"],
        "db": {"engine": "postgres", "size": "small"},
        "note": 'say "hi"\nthen <go> ✓',
        "empty": None,
    },
    output={"ticket_key": "OPS-42", "cluster": {"endpoint": "db.internal", "port": 5432}},
    metadata={
        "postgres-database": {
            "id": "postgres-database",
            "owner": "data",
            "tags": ["db"],
            "custom": {"costCenter": "CC-7", "tiers": {"gold": 3}},
        },
        "3d-models": {"id": "3d-models", "owner": "graphics"},
    },
    system=SYSTEM,
)
SCOPE = TemplateScope(
    current={"name", "replicas", "public", "tags", "db", "db.engine", "db.size", "note", "empty"},
    outputs={"ticket_key", "cluster"},
    metadata=VARIABLES.metadata,
)


def text(template: str, variables: Variables = VARIABLES, **kwargs: Any) -> str:
    result = render(template, variables, **kwargs)
    assert result.warnings == (), result.warnings
    return str(result.value)


# -- syntax ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{{.current.name}}",
        "{{ .current.name }}",
        "{{- .current.name -}}",
        "{{\n  .current.name\n}}",
        "{{ .current['name'] }}",
        '{{ .current["name"] }}',
    ],
)
def test_references_with_a_leading_dot(template: str) -> None:
    assert text(template) == "Orders API"


def test_literal_text_is_never_rewritten() -> None:
    source = "a .current.name, {not a tag}, .metadata.x-y and }} stay"
    assert text(source) == source
    assert text("{% raw %}{{ .current.name }}{% endraw %}") == "{{ .current.name }}"
    assert text("{{ '.current.name' }}-{{ \".x-y\" }}") == ".current.name-.x-y"
    assert text("{# a comment with .current.name #}ok") == "ok"


def test_trailing_newlines_and_whitespace_are_kept() -> None:
    assert text("{{ .current.db.engine }}\n") == "postgres\n"
    assert text("  {{ .current.db.size }}  \n\n") == "  small  \n\n"


def test_hyphenated_item_ids_resolve() -> None:
    assert text("{{ .metadata.postgres-database.owner }}") == "data"
    assert text("{{ .metadata.postgres-database.custom.costCenter }}") == "CC-7"
    assert text("{{.metadata.postgres-database.custom.tiers.gold}}") == "3"
    assert text("{{ .metadata.3d-models.owner | upper }}") == "GRAPHICS"
    template = parse("{{ .metadata.postgres-database.owner }}")
    assert [r.text for r in template.references] == [".metadata.postgres-database.owner"]


def test_minus_with_spaces_is_subtraction_without_is_part_of_a_name() -> None:
    assert text("{{ .current.replicas - 1 }}") == "2"
    assert text("{{ .current.replicas -1 }}") == "2"
    assert [r.path for r in parse("{{ .current.replicas-1 }}").references] == [("replicas-1",)]


def test_indexes_and_slices() -> None:
    assert text("{{ .current.tags.0 }}/{{ .current.tags[1] }}/{{ .current.tags[-1] }}") == (
        "web/pci/pci"
    )
    assert text("{{ .current.name[:6] }}") == "Orders"
    assert text("{{ .system.user.teams.1 }}") == "checkout"


def test_expressions_conditions_and_loops() -> None:
    assert text("{{ .current.replicas * 2 + 1 }}") == "7"
    assert text("{{ .current.name ~ '@' ~ .current.replicas }}") == "Orders API@3"
    assert text("{{ 'many' if .current.replicas > 2 else 'few' }}") == "many"
    assert text("{% if 'pci' in .current.tags and .current.public %}PCI{% endif %}") == "PCI"
    assert text("{% if .current.empty is none %}none{% elif 1 %}x{% endif %}") == "none"
    loop = "{% for t in .current.tags %}{{ loop.index }}:{{ t | upper }}{% if not loop.last %},{% endif %}{% endfor %}"
    assert text(loop) == "1:WEB,2:PCI"
    assert text("{% for k in .current.db %}{{ k }}={{ .current.db[k] }};{% endfor %}") == (
        "engine=postgres;size=small;"
    )
    assert (
        text("{% for x in .current.nothing_here | default([]) %}x{% else %}none{% endfor %}")
        == "none"
    )


def test_the_examples_of_the_docs() -> None:
    variables = Variables(
        current={"environment": "production", "db_name": "orders"},
        output={"labels": {"app.kubernetes.io/name": "orders"}},
        system=SYSTEM,
    )
    summary = "{% if .current.environment == 'production' %}[PROD] {% endif %}Database {{ .current.db_name }}"
    teams = "{% for team in .system.user.teams %}{{ team }}{% if not loop.last %}, {% endif %}{% endfor %}"
    assert text(summary, variables) == "[PROD] Database orders"
    assert text(teams, variables) == "payments, checkout"
    assert text("{{ .output.labels['app.kubernetes.io/name'] }}", variables) == "orders"
    assert text("{{ '{{' }} literally") == "{{ literally"
    assert text("{{ .system.timestamp | date('%d %b %Y') }}") == "15 Jan 2030"


def test_a_parse_is_cached_and_reused() -> None:
    assert parse("{{ .current.name }} cached") is parse("{{ .current.name }} cached")


# -- the namespaces -------------------------------------------------------------------------


def test_current_namespace_with_groups() -> None:
    assert text("{{ .current.db.engine }}-{{ .current.db.size }}") == "postgres-small"
    assert text("{{ .current.db }}") == '{"engine": "postgres", "size": "small"}'


def test_output_namespace() -> None:
    assert text("{{ .output.ticket_key }}") == "OPS-42"
    assert text("{{ .output.cluster.endpoint }}:{{ .output.cluster.port }}") == "db.internal:5432"


def test_metadata_namespace() -> None:
    assert text("{{ .metadata.postgres-database.tags | join }}") == "db"


@pytest.mark.parametrize(
    ("reference", "value"),
    [
        ("requestId", "req-1"),
        ("correlationId", "corr-1"),
        ("timestamp", "2030-01-15T09:30:00+00:00"),
        ("user.email", "dev@acme.example"),
        ("user.name", "Dev Eloper"),
        ("user.teams", '["payments", "checkout"]'),
        ("platform.region", "eu-west-1"),
        ("platform.environment", "production"),
    ],
)
def test_system_namespace(reference: str, value: str) -> None:
    assert text(f"{{{{ .system.{reference} }}}}") == value
    assert check(f"{{{{ .system.{reference} }}}}", SCOPE) == []


def test_variables_from_sample_mapping() -> None:
    variables = Variables.from_mapping(
        {"current": {"a": 1}, "output": {"b": 2}, "pending": {"c": 3}}
    )
    assert text("{{ .current.a }}{{ .output.b }}{{ .output.c }}", variables) == (
        "12⟨known after task 3: c⟩"
    )
    with pytest.raises(ValueError, match="unknown namespace"):
        Variables.from_mapping({"Values": {}})
    with pytest.raises(ValueError, match="'current' must be an object"):
        Variables.from_mapping({"current": []})


# -- pipes in templates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ .current.missing | default('n/a') }}", "n/a"),
        ("{{ .current.empty | default(.output.ticket_key) }}", "OPS-42"),
        ("{{ .current.name | upper }}", "ORDERS API"),
        ("{{ .current.name | lower }}", "orders api"),
        ("{{ .current.name | slug }}", "orders-api"),
        ("{{ .current.name | slug(max_length=3) }}", "ord"),
        ("{{ '  x  ' | trim }}", "x"),
        ("{{ .current.name | truncate(7, '…') }}", "Orders…"),
        ("{{ .current.name | replace(' ', '_') | lower }}", "orders_api"),
        ("{{ .current.db | json }}", '{"engine": "postgres", "size": "small"}'),
        ("{{ .current.tags | yaml }}", "- web\n- pci"),
        ("{{ .current.tags | join('+') }}", "web+pci"),
        ("{{ .current.name | b64encode }}", "T3JkZXJzIEFQSQ=="),
        ("{{ .system.timestamp | date('%d %b %Y') }}", "15 Jan 2030"),
        ("{{ .current.name | slug | upper | truncate(4) }}", "ORDE"),
    ],
)
def test_every_pipe_in_a_template(template: str, expected: str) -> None:
    assert text(template) == expected


def test_a_pipe_that_cannot_handle_its_input_warns_and_gives_empty_text() -> None:
    result = render("[{{ .current.name | date }}]", VARIABLES)
    assert result.value == "[]"
    assert result.warnings == ("date: the value is not a date, ISO 8601 text or a timestamp",)


def test_a_pipe_error_never_shows_the_value() -> None:
    result = render("{{ .current.secret | date }}", Variables(current={"secret": "hunter2"}))
    assert "hunter2" not in " ".join(result.warnings)


# -- output formatting ----------------------------------------------------------------------


def test_scalars_as_text() -> None:
    assert text("{{ .current.public }}|{{ .current.empty }}|{{ .current.replicas }}") == "true||3"


def test_a_lone_expression_inserts_its_object_into_a_config() -> None:
    config = {
        "tags": "{{ .current.tags }}",
        "db": "{{ .current.db }}",
        "mixed": "tags: {{ .current.tags }}",
        "nested": [{"deep": "{{- .output.cluster -}}"}],
        "count": "{{ .current.replicas }}",
        "flag": "{{ .current.public }}",
        "literal": 5,
        "none": None,
    }
    # What is rendered is the point here, not how fast: a generous budget, so a busy CI
    # machine's stall cannot fail it (the time limit has its own test below).
    result = render_config(config, VARIABLES, limits=Limits(max_seconds=30))
    assert result.warnings == ()
    assert result.value == {
        "tags": ["web", "pci"],
        "db": {"engine": "postgres", "size": "small"},
        "mixed": 'tags: ["web", "pci"]',
        "nested": [{"deep": {"endpoint": "db.internal", "port": 5432}}],
        "count": 3,  # numbers and booleans keep their JSON type too
        "flag": True,
        "literal": 5,
        "none": None,
    }
    assert config["tags"] == "{{ .current.tags }}"  # the definition is not modified


def test_values_in_a_structured_json_body_are_escaped_by_serialisation() -> None:
    body = {
        "comment": "{{ .current.note }}",
        "who": "{{ .current.name }} ({{ .system.user.email }})",
    }
    rendered = render_config(body, VARIABLES).value
    assert rendered["comment"] == 'say "hi"\nthen <go> ✓'
    assert json.loads(json.dumps(rendered)) == rendered


def test_json_format_escapes_inside_strings_and_writes_values_elsewhere() -> None:
    template = (
        '{"note": "{{ .current.note }}", "name": {{ .current.name }}, "tags": {{ .current.tags }},'
        ' "n": {{ .current.replicas }}, "ok": {{ .current.public }}, "gone": {{ .current.nope }},'
        ' "esc": "a \\" {{ .current.name }}", "pending": {{ .output.later }}}'
    )
    result = render(
        template, Variables(**{**VARIABLES.__dict__, "pending": {"later": 2}}), fmt="json"
    )
    assert json.loads(result.value) == {
        "note": 'say "hi"\nthen <go> ✓',
        "name": "Orders API",
        "tags": ["web", "pci"],
        "n": 3,
        "ok": True,
        "gone": None,
        "esc": 'a " Orders API',
        "pending": "⟨known after task 2: later⟩",
    }
    assert result.warnings == (".current.nope: no value (rendered as empty text)",)
    assert "✓" in result.value  # unicode kept, not \\u-escaped


def test_values_become_text_where_the_action_requires_text() -> None:
    config = {
        "url": "https://api.example/{{ .current.name | slug }}",
        "headers": {"X-Tags": "{{ .current.tags }}", "X-Team": "{{ .system.user.teams.0 }}"},
        "query": {"db": "{{ .current.db }}", "n": "{{ .current.replicas }}"},
        "json": {"tags": "{{ .current.tags }}", "n": "{{ .current.replicas }}"},
    }
    value = render_config(config, VARIABLES, model=RestApiConfig).value
    assert value["headers"] == {"X-Tags": '["web", "pci"]', "X-Team": "payments"}
    assert value["query"] == {"db": '{"engine": "postgres", "size": "small"}', "n": "3"}
    assert value["json"] == {"tags": ["web", "pci"], "n": 3}  # a JSON body keeps the types
    RestApiConfig.model_validate(value)
    assert render_config(config, VARIABLES).value["query"]["n"] == 3  # without a model
    form = {"url": "/x", "form": {"public": "{{ .current.public }}", "e": "{{ .current.empty }}"}}
    value = render_config(form, VARIABLES, model=RestApiConfig).value
    assert value["form"] == {"public": "true", "e": ""}


# -- missing values -------------------------------------------------------------------------


def test_a_missing_value_is_empty_text_plus_a_warning() -> None:
    result = render("db={{ .current.dbname }};{{ .current.dbname }};{{ .output.url }}", VARIABLES)
    assert result.value == "db=;;"
    assert result.warnings == (
        ".current.dbname: no value (rendered as empty text)",
        ".output.url: no value (rendered as empty text)",
    )


@pytest.mark.parametrize(
    "template",
    [
        "{{ .current.nope.deeper | upper }}",
        "{{ .current.nope + 1 }}",
        "{{ -.current.nope }}",
        "{{ .current.nope ~ '' }}",
        "{{ .current.name.upper }}",  # a method is not a field: missing, never called
        "{{ .current.db.items }}",
        "{{ .current.tags.pop }}",
        "{% for t in .current.nope %}x{% endfor %}",
        "{% for d in [.current.db] %}{{ d.nmae }}{% endfor %}",
    ],
)
def test_missing_values_never_raise(template: str) -> None:
    result = render(template, VARIABLES)
    assert result.value == ""
    assert len(result.warnings) == 1
    assert "no value" in result.warnings[0]


def test_tests_and_defaults_read_missing_values_without_a_warning() -> None:
    result = render(
        "{% if .current.nope %}x{% endif %}{{ .current.nope is defined }}"
        "{{ .current.nope | default('d') }}",
        VARIABLES,
    )
    assert result == templating.RenderResult("falsed")


def test_strict_mode_turns_a_missing_value_into_an_error() -> None:
    with pytest.raises(RenderError, match=r"\.current\.nope: no value"):
        render("{{ .current.nope }}", VARIABLES, strict=True)
    assert render("{{ .current.name }}", VARIABLES, strict=True).value == "Orders API"


def test_config_warnings_name_the_config_path() -> None:
    result = render_config({"json": {"items": ["ok", "{{ .current.nope }}"]}}, VARIABLES)
    assert result.value == {"json": {"items": ["ok", ""]}}
    assert result.warnings == ("json.items[1]: .current.nope: no value (rendered as empty text)",)


# -- "known after task N" -------------------------------------------------------------------


PLAN = Variables(
    current={"name": "orders"}, output={"done": "yes"}, pending={"ticket": 2, "done": 1}
)


def test_pending_outputs_render_as_placeholders() -> None:
    assert text("ticket {{ .output.ticket }}", PLAN) == "ticket ⟨known after task 2: ticket⟩"
    assert (
        text("{{ .output.ticket.fields.key }}", PLAN) == "⟨known after task 2: ticket.fields.key⟩"
    )
    assert text("{{ .output.done }}", PLAN) == "yes"  # produced already: the value wins


def test_placeholders_pass_through_pipes_and_operators_unchanged() -> None:
    for template in (
        "{{ .output.ticket | upper }}",
        "{{ .output.ticket | default('x') }}",
        "{{ .current.nope | default(.output.ticket) }}",
        "{{ .current.name | replace('o', .output.ticket) }}",
        "{{ .output.ticket + 1 }}",
        "{% for t in .output.ticket %}{{ t }}{% endfor %}",
    ):
        assert text(template, PLAN) == "⟨known after task 2: ticket⟩", template


def test_placeholders_in_a_config() -> None:
    result = render_config({"url": "/x/{{ .output.ticket }}", "obj": "{{ .output.ticket }}"}, PLAN)
    assert result.value == {
        "url": "/x/⟨known after task 2: ticket⟩",
        "obj": "⟨known after task 2: ticket⟩",
    }
    assert result.warnings == ()


def test_resolve_gives_the_pending_stand_in() -> None:
    template = parse("{{ .output.ticket }}{{ .current.name }}")
    values = list(resolve(template, PLAN).values.values())
    assert values == [Pending(2, "ticket"), "orders"]


# -- validation messages --------------------------------------------------------------------

#: The messages of the catalog's first checker, which the engine keeps word for word.
SAME_AS_BEFORE = [
    "{{ .current.name }} {{ .current.db }} {{ .current.db.engine | lower }}",
    "{{ .output.ticket_key }}",
    "{{ .metadata.postgres-database }} {{ .metadata.postgres-database.owner }}",
    "{{ .metadata.postgres-database.custom.costCenter }}",
    "{{ .system.requestId }} {{ .system.user.teams }} {{ .system.platform.environment }}",
    "{{ .current.nmae }}",
    "{{ .current.db.egnine }}",
    "{{ .output.url }}",
    "{{ .metadata.mysql.name }}",
    "{{ .metadata.postgres-database.colour }}",
    "{{ .metadata.postgres-database.custom.sla }}",
    "{{ .system.user.phone }}",
    "{{ .Values.name }}",
    "{{ .current }}",
    "{{ .current.a }}/{{ .output.b }}",
    "{% if .current.nope %}x{% endif %}{{ .current.name }}",
]


@pytest.mark.parametrize("template", SAME_AS_BEFORE)
def test_reference_messages_are_those_of_the_catalog(template: str) -> None:
    assert check(template, SCOPE) == check_references(template, SCOPE)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ .current.nope }}", ".current.nope: no form field 'nope'"),
        ("{{ .output.later }}", ".output.later: no earlier action produces output 'later'"),
        ("{{ .metadata.nope.owner }}", ".metadata.nope.owner: no catalog item 'nope'"),
        ("{{ .system.user.age }}", ".system.user.age: unknown system value (known: "),
        (
            "{{ .Values.x }}",
            ".Values.x: unknown namespace (use one of current, output, metadata, system)",
        ),
        ("{{ .current }}", ".current: name a value inside the namespace"),
        (
            "{{ .current.name.upper }}",
            ".current.name.upper: 'name' is a form value, not a group; it has no field 'upper' "
            "(to transform it, use a pipe: .current.name | upper)",
        ),
        ("{{ .current.name | shout }}", "unknown pipe 'shout' (known: b64encode, date, default, "),
        ("{{ .current.name | truncate }}", "truncate: missing a required argument: 'length'"),
        ("{{ .current.name | truncate('5') }}", "truncate: 'length' must be a whole number"),
        ("{{ .current.name | trim(1) }}", "trim: 'chars' must be text or null"),
        ("{{ .current.name | upper(1) }}", "upper: too many positional arguments"),
        ("{{ .current.name | slug(size=3) }}", "slug: got an unexpected keyword argument 'size'"),
        ("{{ .current.name is odd }}", "unknown test 'odd' (known: defined, undefined, none, "),
        ("{{ .current.name }", "unexpected '}'"),
        ("{{ .current.name", "unexpected end of template, expected 'end of print statement'."),
        ("{% if .current.name %}", "Unexpected end of template."),
        ("line one\n{{ .current. }}\n", "expected name or number (line 2)"),
        ("{{ .current.tags.0.x }}", ".current.tags.0.x: 'tags' is a form value, not a group;"),
    ],
)
def test_each_class_of_problem(template: str, problem: str) -> None:
    problems = check(template, SCOPE)
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem), problems[0]


FUZZ_SOURCE = (
    "a {{ .metadata.postgres-database.custom.tiers['gold'] | default(.current.tags[0:1]) }}"
    "{% for t in .current.tags if t != 'x' %}{{ loop.index ~ t | upper }}{% else %}-{% endfor %}"
    "{% if not .current.public and .current.replicas >= 2 %}{{ {'k': [1, 2.5, none]} | json }}"
    "{% elif .current.db is mapping %}{# c #}{% raw %}{{ .x }}{% endraw %}{% endif %}"
)


def test_any_cut_of_a_template_parses_or_gives_a_parse_error() -> None:
    cuts = {FUZZ_SOURCE[:i] for i in range(len(FUZZ_SOURCE) + 1)}
    cuts |= {FUZZ_SOURCE[i:] for i in range(len(FUZZ_SOURCE) + 1)}
    cuts |= {FUZZ_SOURCE[i : i + 17] for i in range(len(FUZZ_SOURCE))}
    for source in sorted(cuts):
        try:
            template = parse(source)
        except ParseError as exc:
            assert exc.message and exc.line >= 1, source
            assert check(source, SCOPE), source
            continue
        validate(template, SCOPE)
        with contextlib.suppress(RenderError):
            render(source, VARIABLES)


def test_validate_is_the_scope_phase_after_parse() -> None:
    template = parse("{{ .current.a }}{{ .output.ticket_key }}{{ .current.a | upper }}")
    assert validate(template, SCOPE) == [".current.a: no form field 'a'"]  # once per reference
    narrower = TemplateScope(current={"a"}, outputs=set())
    assert validate(template, narrower) == [
        ".output.ticket_key: no earlier action produces output 'ticket_key'"
    ]


def test_parse_errors_carry_the_line() -> None:
    with pytest.raises(ParseError) as caught:
        parse("ok\n\n{{ .current.x | nope }}")
    assert caught.value.line == 3
    assert caught.value.message.startswith("unknown pipe 'nope'")


def test_list_indexes_after_a_field_are_fine() -> None:
    assert (
        check("{{ .current.tags.0 }} {{ .current.tags[1] }} {{ .system.user.teams.0 }}", SCOPE)
        == []
    )


def test_deeper_paths_into_outputs_and_custom_metadata_are_run_time_values() -> None:
    assert check("{{ .output.cluster.endpoint }}", SCOPE) == []
    assert check("{{ .metadata.postgres-database.custom.tiers.gold }}", SCOPE) == []


# -- the sandbox ----------------------------------------------------------------------------

ESCAPES = {
    "{{ .current.__class__ }}": "'__class__': names starting with '_' are not allowed",
    "{{ ''.__class__ }}": "'__class__': names starting with '_' are not allowed",
    "{{ .current.name.__class__.__mro__ }}": "'__class__': names starting with '_'",
    "{{ .current['__class__'] }}": "'__class__': names starting with '_' are not allowed",
    "{{ .current.name['__len__'] }}": "'__len__': names starting with '_' are not allowed",
    "{{ ._current }}": "'_current': names starting with '_' are not allowed",
    "{{ _r0 }}": "'_r0': names starting with '_' are not allowed",
    "{{ .current.name.upper() }}": "calling functions or methods is not allowed",
    "{{ [1, 2].pop() }}": "calling functions or methods is not allowed",
    "{{ range(10) }}": "calling functions or methods is not allowed",
    "{{ cycler }}": "unknown name 'cycler'",
    "{{ joiner }}": "unknown name 'joiner'",
    "{{ lipsum }}": "unknown name 'lipsum'",
    "{{ namespace }}": "unknown name 'namespace'",
    "{{ self }}": "unknown name 'self'",
    "{{ config }}": "unknown name 'config'",
    "{{ request }}": "unknown name 'request'",
    "{{ current.name }}": "unknown name 'current'",
    "{{ loop.index }}": "unknown name 'loop'",
    "{{ .current|attr('__class__') }}": "unknown pipe 'attr'",
    "{{ .current.tags|map('upper') }}": "unknown pipe 'map'",
    "{{ '%s'|format(1) }}": "unknown pipe 'format'",
    "{{ .current.name|tojson }}": "unknown pipe 'tojson'",
    "{{ .current.name|e }}": "unknown pipe 'e'",
    "{{ .current.name is callable }}": "unknown test 'callable'",
    "{{ .current.name is sameas .current }}": "unknown test 'sameas'",
    "{{ .current.name|upper(*.current.tags) }}": "'upper': * and ** arguments are not allowed",
    "{{ 'abc'.upper }}": "a literal value has no field 'upper'",
    "{{ {'a': 1}.a }}": "a literal value has no field 'a'",
    "{% for t in .current.tags %}{{ loop.cycle }}{% endfor %}": "loop has no 'cycle'",
    "{% for t in .current.tags recursive %}{% endfor %}": "recursive loops are not allowed",
    "{% import 'x' as y %}": "{% import %} is not allowed",
    "{% from 'x' import y %}": "{% from ... import %} is not allowed",
    "{% include 'x' %}": "{% include %} is not allowed",
    "{% extends 'x' %}": "{% extends %} is not allowed",
    "{% block b %}{% endblock %}": "{% block %} is not allowed",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}": "{% macro %} is not allowed",
    "{% call m() %}{% endcall %}": "{% call %} is not allowed",
    "{% set x = 'a' * 9 %}": "{% set %} is not allowed",
    "{% set x %}a{% endset %}": "{% set %} is not allowed",
    "{% with a = 1 %}{% endwith %}": "{% with %} is not allowed",
    "{% filter upper %}x{% endfilter %}": "{% filter %} is not allowed",
    "{% autoescape false %}x{% endautoescape %}": "{% autoescape %} is not allowed",
    "{% do x %}": "Encountered unknown tag 'do'.",
    "{% break %}": "Encountered unknown tag 'break'.",
    "{{ $.current.name }}": "unexpected char '$'",
    "{{ " + "(" * 25 + "1" + ")" * 25 + " }}": "brackets nested more than 20 deep",
    "{{ " + "[" * 25 + "]" * 25 + " }}": "brackets nested more than 20 deep",
    "{{ " + "not " * 3000 + "1 }}": "the template is nested too deeply",
    "{{ " + "- " * 3000 + "1 }}": "the template is nested too deeply",
    "{{ 1" + " + 1" * 100 + " }}": "the template is nested more than 64 levels deep",
    "{{ .current.name" + " | upper" * 100 + " }}": "the template is nested more than 64",
    "{{ " + "1 if 1 else " * 70 + "1 }}": "the template is nested more than 64",
}


@pytest.mark.parametrize("template", list(ESCAPES))
def test_escape_attempts_are_refused_at_validation(template: str) -> None:
    problems = check(template, SCOPE)
    assert len(problems) == 1
    assert problems[0].startswith(ESCAPES[template]), problems[0]


@pytest.mark.parametrize("template", list(ESCAPES))
def test_escape_attempts_cannot_render_either(template: str) -> None:
    with pytest.raises(ParseError):
        render(template, VARIABLES)


class Secretive:
    secret = "the-key"

    def __str__(self) -> str:
        return "secretive"


def test_python_objects_in_values_expose_no_attributes() -> None:
    variables = Variables(current={"obj": Secretive(), "d": {"k": 1}})
    for template in ("{{ .current.obj.secret }}", "{{ .current.d.keys }}", "{{ .current.d.get }}"):
        result = render(template, variables)
        assert result.value == "" and "no value" in result.warnings[0], template
    assert text("{{ .current.obj }}", variables) == "secretive"


def test_the_environment_has_no_globals_and_only_loom_pipes() -> None:
    for fmt in ("text", "json"):
        env = sandbox.environment(fmt)
        assert env.globals == {}
        assert {f for f in env.filters if not f.startswith("_")} == set(pipes.PIPES)
        assert set(env.tests) == set(sandbox.TESTS)
        assert env.sandboxed


BIG = Variables(current={"big": "x" * 40_000, "name": "n", "many": ["y" * 1000] * 100})


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("{{ 'a' * 100000000 }}", "'*' would build a value longer than 65536 characters"),
        ("{{ [1] * 100000000 }}", "'*' would build a value longer than 65536 characters"),
        ("{{ 100000000 * 'a' }}", "'*' would build a value longer than 65536 characters"),
        ("{{ .current.big + .current.big }}", "'+' would build a value longer than 65536"),
        ("{{ .current.big ~ .current.big }}", "'~' would build text longer than 65536"),
        ("{{ 2 ** 100000 }}", "'**' would build a number larger than 2^4096"),
        ("{{ 10 ** 10 ** 10 ** 10 ** 10 }}", "'**' would build a number larger than 2^4096"),
        ("{{ (2 ** 4000) * (2 ** 4000) }}", "'*' would build a number larger than 2^4096"),
        ("{{ '%s' % .current.name }}", "'%' only works on numbers"),
        ("{{ '%999999999s' % 'a' }}", "'%' only works on numbers"),
        ("{{ 1 / 0 }}", "cannot render: division by zero"),
        ("{{ 'a' < 1 }}", "cannot render: '<' not supported"),
        (
            "{% for a in .current.many %}{{ a }}{% endfor %}",
            "the text is longer than 65536 characters",
        ),
    ],
)
def test_runaway_values_are_bounded(template: str, error: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(template, BIG)
    assert caught.value.message.startswith(error), caught.value.message


def test_a_pipe_stops_at_the_size_limit_with_a_warning() -> None:
    result = render("{{ [.current.big, .current.big] | join }}", BIG)
    assert result.value == ""
    assert result.warnings == ("join: the result would be longer than 65536 characters",)


def test_a_growth_loop_is_stopped_by_the_output_limit() -> None:
    big = Variables(current={"x": "ab" * 100, "list": list(range(1000))})
    template = "{% for a in .current.list %}{% for b in .current.list %}{{ .current.x ~ .current.x }}{% endfor %}{% endfor %}"
    with pytest.raises(RenderError, match="the text is longer than 65536 characters"):
        render(template, big)


def test_a_slow_template_is_stopped_by_the_time_limit() -> None:
    many = Variables(current={"list": list(range(3000))})
    template = "{% for a in .current.list %}{% for b in .current.list %}{% endfor %}{% endfor %}"
    started = datetime.now()
    with pytest.raises(RenderError, match=r"rendering took longer than 0\.05 s"):
        render(template, many, limits=Limits(max_seconds=0.05))
    assert (datetime.now() - started).total_seconds() < 1


def test_limits_are_settings() -> None:
    tight = Limits(max_template_chars=30, max_output_chars=10, max_config_chars=25)
    with pytest.raises(ParseError, match="longer than 30 characters"):
        parse("{{ .current.name }}" + " " * 20, tight)
    with pytest.raises(RenderError, match="longer than 10 characters"):
        render("{{ .current.name }}!!", VARIABLES, limits=tight)
    with pytest.raises(RenderError, match="the config is longer than 25 characters"):
        render_config(["{{ .current.name }}"] * 3, VARIABLES, limits=tight)
    with pytest.raises(RenderError, match=r"^\[1\]: a value would be longer than 10"):
        render_config(["x", "{{ .current.db }}"], VARIABLES, limits=tight)


def test_a_bad_template_in_a_config_names_its_path() -> None:
    with pytest.raises(RenderError, match=r"^headers\.X: unknown pipe 'nope'"):
        render_config({"headers": {"X": "{{ .current.name | nope }}"}}, VARIABLES)


# -- phases and the catalog hook ------------------------------------------------------------


def test_the_four_phases() -> None:
    template = parse("Hello {{ .current.name | upper }} from {{ .system.user.name }}")
    assert [r.text for r in template.references] == [".current.name", ".system.user.name"]
    assert validate(template, SCOPE) == []
    resolved = resolve(template, VARIABLES)
    assert list(resolved.values.values()) == ["Orders API", "Dev Eloper"]
    assert transform(resolved).value == "Hello ORDERS API from Dev Eloper"


def test_plain_text_skips_the_engine() -> None:
    template = parse("no tags at all")
    assert template.plain and template.references == ()
    assert transform(resolve(template, VARIABLES)).value == "no tags at all"


@pytest.fixture
def restore_checker() -> Iterator[None]:
    original = references._checker
    try:
        yield
    finally:
        references.set_template_checker(original)


def test_importing_the_catalog_installs_the_engine(restore_checker: None) -> None:
    assert references._checker is check
    references.set_template_checker(check_references)
    templating.install()
    assert references.check_template("{{ .current.name | shout }}", SCOPE)[0].startswith(
        "unknown pipe 'shout'"
    )


# Template strings that take the parser-free path of `check` and the parser's path must
# find the same references.
QUICK = [
    "{{ .current.name }}",
    "a {{.current.db.engine}} b {{- .metadata.postgres-database.owner -}}\n{{ .current.db_x }}",
    '{"a": "{{ .output.ticket_key }}"}',
    "{{ .metadata.s3-bucket.custom.governanceProject }}",
    "{{ .current }}",
    "{{ .current.a-b-c }}",
    "{{ .current.a__b }}",
    "{ {{ .x.y }} }",
    "one\n{{-\n  .current.name\n-}}",
]


@pytest.mark.parametrize("template", QUICK)
def test_the_quick_path_agrees_with_the_parser(template: str) -> None:
    quick = validation._quick_references(template)
    assert quick is not None
    parsed = parse(template).references
    assert [(r.namespace, r.path, r.line) for r in quick] == [
        (r.namespace, r.path, r.line) for r in parsed
    ]
    assert check(template, SCOPE) == validate(parse(template), SCOPE)


def test_the_quick_path_agrees_with_the_parser_on_random_templates() -> None:
    pieces = ["{{", "}}", "{{-", "-}}", ".", "-", "_", "current", "metadata", "a", "b2", "3d"]
    pieces += [" ", "\n", "{", "}", "text", "0"]
    rng = random.Random(3)
    quick = 0
    for _ in range(5000):
        source = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        found = validation._quick_references(source)
        if found is not None:
            quick += 1
            expected = [(r.namespace, r.path, r.line) for r in parse(source).references]
            assert [(r.namespace, r.path, r.line) for r in found] == expected, source
    assert quick > 1000


@pytest.mark.parametrize(
    "template",
    ["{{ .current.name | upper }}", "{{ .current.0 }}", "{{ .current.a-_b }}", "{{{ .x }}}"],
)
def test_anything_else_takes_the_parser(template: str) -> None:
    assert validation._quick_references(template) is None


# -- every template of the sample catalog ---------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog"


@pytest.fixture(scope="module")
def sample() -> LoadedCatalog:
    catalog = load_directory(EXAMPLES)
    assert catalog.problems == []
    return catalog


def _sample_input(fields: list[FormField]) -> dict[str, Any]:
    """A value for every field (hidden ones too, so every reference has one); text with
    quotes, a newline and unicode to exercise escaping."""
    values: dict[str, Any] = {}
    for f in fields:
        if f.type == "group":
            values[f.id] = _sample_input(f.fields or [])
        elif f.type == "enum":
            values[f.id] = f.option_values()[0]
        elif f.type == "multi-enum":
            values[f.id] = f.option_values()[:2]
        elif f.type in ("integer", "number"):
            values[f.id] = int(f.min) if f.min is not None else 2
        elif f.type == "boolean":
            values[f.id] = True
        elif f.type == "date":
            values[f.id] = "2030-01-15"
        elif f.type == "email":
            values[f.id] = "dev@acme.example"
        elif f.type == "url":
            values[f.id] = "https://docs.acme.example/runbook"
        elif f.pattern is None:
            values[f.id] = f'{f.id} "quoted"\nü'
        else:
            valid = (c for c in _PATTERNED if check_value(f, c)[1] is None)
            values[f.id] = next(valid)
    return values


_PATTERNED = [
    "orders",
    "orders-api",
    "acme/orders-api",
    "#orders",
    "10:00",
    "03:00-04:00",
    "/healthz",
]
_PATTERNED += ["SEC-1234"]
_PATTERNED += [
    f"arn:aws:{s}:eu-west-1:123456789012:{k}/12345678-1234-1234-1234-123456789012"
    for s, k in (("acm", "certificate"), ("kms", "key"))
]


def _metadata(catalog: LoadedCatalog) -> dict[str, dict[str, Any]]:
    return {
        entry.id: {**entry.document.metadata.model_dump(by_alias=True), "owner": entry.owner}
        for entry in catalog.items.values()
    }


def _items(catalog: LoadedCatalog) -> list[CatalogItem]:
    return [e.document for e in catalog.items.values() if isinstance(e.document, CatalogItem)]


def test_every_sample_item_template_validates_and_renders(sample: LoadedCatalog) -> None:
    metadata = _metadata(sample)
    rendered = 0
    for item in _items(sample):
        current = _sample_input(item.spec.form.fields)
        fields = set(field_paths(item.spec.form))
        produced: dict[str, Any] = {}
        for action in item.spec.fulfillment.actions:
            scope = TemplateScope(current=fields, outputs=set(produced), metadata=metadata)
            for path, string in strings_in(action.config):
                template = parse(string)  # parses with the engine's parser, not the quick path
                assert validate(template, scope) == [], (item.metadata.id, path)
                rendered += not template.plain
            variables = Variables(current, produced, metadata, SYSTEM)
            model = action_types()[action.type].config_model
            result = render_config(action.config, variables, model=model)
            assert result.warnings == (), (item.metadata.id, action.id, result.warnings)
            assert "{{" not in json.dumps(result.value)
            model.model_validate(result.value)  # what the action will receive is valid
            json.dumps(result.value)  # and serialisable as a JSON body
            produced.update({key: f"{action.id}-{key}" for key in action.outputs})
    assert rendered > 100  # the samples' templates were really walked, not skipped


def test_sample_values_land_in_the_rendered_configs(sample: LoadedCatalog) -> None:
    item = sample.items["postgres-database"].document
    assert isinstance(item, CatalogItem)
    current = _sample_input(item.spec.form.fields)
    outputs = {"endpoint": "db.internal", "port": 5432, "vault_path": "secret/db"}
    variables = Variables(current, outputs, _metadata(sample), SYSTEM)
    actions = {a.id: a for a in item.spec.fulfillment.actions}
    configs = {
        key: render_config(action.config, variables).value for key, action in actions.items()
    }
    flat = json.dumps(configs, ensure_ascii=False)
    assert "Endpoint: db.internal:5432" in flat  # outputs of the first task, in a ticket
    assert "Owner: data" in flat  # .metadata.postgres-database.owner, from CODEOWNERS
    assert json.dumps(current["extensions"]) in flat  # a lone list inserted as a list


def test_every_sample_bundle_input_validates_and_renders(sample: LoadedCatalog) -> None:
    metadata = _metadata(sample)
    for entry in sample.bundles.values():
        bundle = entry.document
        assert isinstance(bundle, CatalogBundle)
        current = _sample_input(bundle.spec.form.fields)
        scope = TemplateScope(set(field_paths(bundle.spec.form)), set(), metadata)
        outputs = {
            key: f"out-{key}"
            for component in bundle.spec.components
            for action in sample.items[component.item].document.spec.fulfillment.actions  # type: ignore[union-attr]
            for key in action.outputs
        }
        for component in bundle.spec.components:
            for path, string in strings_in(component.inputs):
                problems = [p for p in check(string, scope) if not p.startswith(".output.")]
                assert problems == [], (bundle.metadata.id, component.id, path)
            result = render_config(component.inputs, Variables(current, outputs, metadata, SYSTEM))
            assert result.warnings == (), (bundle.metadata.id, component.id, result.warnings)


def test_a_request_plan_shows_outputs_known_after_their_task(sample: LoadedCatalog) -> None:
    item = sample.items["feature-flag-project"].document
    assert isinstance(item, CatalogItem)
    first, second = item.spec.fulfillment.actions
    plan = Variables(
        _sample_input(item.spec.form.fields),
        metadata=_metadata(sample),
        system=SYSTEM,
        pending={key: 1 for key in first.outputs},
    )
    result = render_config(second.config, plan)
    assert result.warnings == ()
    assert result.value["url"] == (
        "https://flags.internal.example/api/v2/projects/⟨known after task 1: project_id⟩"
        "/integrations/slack"
    )


def test_loom_catalog_validate_uses_the_engine_offline(tmp_path: Path) -> None:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "item.yaml").write_text(
        "apiVersion: loom/v1\nkind: CatalogItem\n"
        "metadata: {id: shouty, name: Shouty, category: demo}\n"
        "spec:\n  form:\n    fields:\n      - {id: name, type: string}\n"
        "  fulfillment:\n    actions:\n      - id: ticket\n        type: jira-ticket\n"
        '        config: {project: OPS, summary: "{{ .current.name | shout }}"}\n'
    )
    loom = Path(sys.executable).with_name("loom")
    done = subprocess.run(
        [str(loom), "catalog", "validate", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "spec.fulfillment.actions[0].config.summary: unknown pipe 'shout'" in done.stdout
    sample = subprocess.run(
        [str(loom), "catalog", "validate", str(EXAMPLES)], capture_output=True, text=True
    )
    assert sample.returncode == 0 and "0 problems" in sample.stdout, sample.stdout
