"""rules: what a structurally valid document must also follow (sound fields, valid regexes
and defaults, conditions on known fields, sound bundles), and the dependency graph."""

from __future__ import annotations

from typing import Any

import pytest

from loom.catalog.documents import CatalogBundle, CatalogItem, Form
from loom.catalog.rules import (
    bundle_findings,
    dependency_order,
    find_cycle,
    form_findings,
    item_findings,
    validation_message,
)
from loom.catalog.yaml_source import format_path


def findings(*fields: dict[str, Any]) -> list[tuple[str, str]]:
    form = Form.model_validate({"fields": list(fields)})
    return [(format_path(path), message) for path, message in form_findings(form, ())]


def make_item(
    fields: list[dict[str, Any]] | None = None,
    actions: list[dict[str, Any]] | None = None,
    item_id: str = "svc",
) -> CatalogItem:
    return CatalogItem.model_validate(
        {
            "apiVersion": "loom/v1",
            "kind": "CatalogItem",
            "metadata": {"id": item_id, "name": item_id, "category": "misc"},
            "spec": {
                "form": {"fields": fields or []},
                "fulfillment": {
                    "actions": actions
                    or [
                        {
                            "id": "t",
                            "type": "jira-ticket",
                            "config": {"project": "P", "summary": "s"},
                        }
                    ]
                },
            },
        }
    )


def make_bundle(
    components: list[dict[str, Any]], fields: list[dict[str, Any]] | None = None
) -> CatalogBundle:
    return CatalogBundle.model_validate(
        {
            "apiVersion": "loom/v1",
            "kind": "CatalogBundle",
            "metadata": {"id": "combo", "name": "Combo", "category": "bundles"},
            "spec": {"form": {"fields": fields or []}, "components": components},
        }
    )


def of_item(item: CatalogItem) -> list[tuple[str, str]]:
    metadata = {item.metadata.id: item.metadata.model_dump(by_alias=True)}
    return [(format_path(p), m) for p, m in item_findings(item, metadata)]


def of_bundle(bundle: CatalogBundle, *items: CatalogItem) -> list[tuple[str, str]]:
    known = {i.metadata.id: i for i in items}
    return [(format_path(p), m) for p, m in bundle_findings(bundle, known, {})]


STRING = {"id": "name", "type": "string"}

# -- fields ---------------------------------------------------------------------------------


def test_a_sound_form_has_no_findings() -> None:
    assert (
        findings(
            {"id": "name", "type": "string", "pattern": "[a-z]+", "default": "abc"},
            {"id": "size", "type": "enum", "options": ["s", "m"], "default": "m"},
            {"id": "tags", "type": "multi-enum", "options": [1, 2], "default": [2]},
            {"id": "count", "type": "integer", "min": 1, "max": 5, "default": 3},
            {"id": "db", "type": "group", "fields": [{"id": "engine", "type": "text"}]},
        )
        == []
    )


def test_a_group_needs_nested_fields() -> None:
    assert findings({"id": "g", "type": "group"}) == [
        ("fields[0].fields", "a group needs at least one nested field")
    ]
    assert findings({"id": "g", "type": "group", "fields": []}) == [
        ("fields[0].fields", "a group needs at least one nested field")
    ]


@pytest.mark.parametrize(
    ("attr", "value"),
    [("options", ["a"]), ("pattern", "x"), ("default", {"a": 1}), ("min", 1), ("max", 2)],
)
def test_a_group_cannot_have_value_attributes(attr: str, value: object) -> None:
    group = {"id": "g", "type": "group", "fields": [STRING], attr: value}
    assert findings(group) == [(f"fields[0].{attr}", f"a group cannot have '{attr}'")]


def test_only_a_group_has_nested_fields() -> None:
    assert findings({**STRING, "fields": [{"id": "x", "type": "string"}]}) == [
        ("fields[0].fields", "only a group has nested fields (this is a string)")
    ]


@pytest.mark.parametrize("kind", ["enum", "multi-enum"])
def test_choice_fields_need_options(kind: str) -> None:
    assert findings({"id": "e", "type": kind}) == [
        ("fields[0].options", f"{kind} fields need options")
    ]
    assert findings({"id": "e", "type": kind, "options": []}) == [
        ("fields[0].options", f"{kind} fields need options")
    ]


def test_options_must_be_unique_also_across_types() -> None:
    assert findings({"id": "e", "type": "enum", "options": ["a", "b", "a"]}) == [
        ("fields[0].options", "options must be unique")
    ]
    assert findings({"id": "e", "type": "enum", "options": [1, "1"]}) == [
        ("fields[0].options", "options must be unique")
    ]
    labelled = [{"value": "a", "label": "A"}, "a"]
    assert findings({"id": "e", "type": "multi-enum", "options": labelled}) == [
        ("fields[0].options", "options must be unique")
    ]


def test_only_choice_fields_have_options() -> None:
    assert findings({**STRING, "options": ["a"]}) == [
        ("fields[0].options", "only enum and multi-enum fields have options (this is a string)")
    ]


@pytest.mark.parametrize("kind", ["string", "text", "email", "url", "secret"])
def test_a_pattern_applies_to_text_fields(kind: str) -> None:
    assert findings({"id": "t", "type": kind, "pattern": ".+"}) == []


@pytest.mark.parametrize("kind", ["integer", "boolean", "date", "enum"])
def test_a_pattern_on_other_fields_is_reported(kind: str) -> None:
    field: dict[str, Any] = {"id": "t", "type": kind, "pattern": ".+"}
    if kind == "enum":
        field["options"] = ["a"]
    assert findings(field) == [
        ("fields[0].pattern", f"a pattern applies to text fields, not {kind}")
    ]


def test_an_invalid_regex_is_reported_with_the_reason() -> None:
    ((path, message),) = findings({**STRING, "pattern": "[a-z("})
    assert path == "fields[0].pattern"
    assert message.startswith("not a valid regular expression (")


def test_min_max_apply_to_numbers() -> None:
    assert findings({**STRING, "min": 1}) == [("fields[0].min", "min/max apply to numbers")]
    assert findings({**STRING, "max": 1}) == [("fields[0].max", "min/max apply to numbers")]
    assert findings({"id": "n", "type": "number", "min": -1.5, "max": 2}) == []


def test_min_greater_than_max_is_reported() -> None:
    assert findings({"id": "n", "type": "integer", "min": 5, "max": 1}) == [
        ("fields[0].min", "min (5) is greater than max (1)")
    ]
    assert findings({"id": "n", "type": "number", "min": 2.5, "max": 1}) == [
        ("fields[0].min", "min (2.5) is greater than max (1)")
    ]


def test_min_length_greater_than_max_length_is_reported() -> None:
    assert findings({**STRING, "minLength": 5, "maxLength": 2}) == [
        ("fields[0].minLength", "minLength is greater than maxLength")
    ]
    assert findings({**STRING, "minLength": 2, "maxLength": 2}) == []


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            {"type": "enum", "options": ["a", "b"], "default": "c"},
            "default 'c' must be one of a, b",
        ),
        (
            {"type": "multi-enum", "options": ["a"], "default": ["a", "z"]},
            "default ['a', 'z'] has unknown option(s) z",
        ),
        (
            {"type": "string", "pattern": "[a-z]+", "default": "ABC"},
            "default 'ABC' must match the pattern [a-z]+",
        ),
        ({"type": "integer", "min": 1, "default": 0}, "default 0 must be at least 1"),
        ({"type": "integer", "default": "many"}, "default 'many' must be a whole number"),
        (
            {"type": "string", "maxLength": 2, "default": "abc"},
            "default 'abc' must have at most 2 character(s)",
        ),
        ({"type": "email", "default": "nobody"}, "default 'nobody' must be an email address"),
        (
            {"type": "date", "default": "31/01/2024"},
            "default '31/01/2024' must be a date (YYYY-MM-DD)",
        ),
    ],
)
def test_an_invalid_default_is_reported(field: dict[str, Any], message: str) -> None:
    assert findings({"id": "f", **field}) == [("fields[0].default", message)]


def test_a_secret_cannot_have_a_default() -> None:
    assert findings({"id": "s", "type": "secret", "default": "hunter2"}) == [
        ("fields[0].default", "a secret field cannot have a default")
    ]


def test_no_default_check_when_the_pattern_is_invalid() -> None:
    ((path, _message),) = findings({**STRING, "pattern": "(", "default": "x"})
    assert path == "fields[0].pattern"


def test_duplicate_field_ids_on_one_level_are_reported() -> None:
    assert findings(STRING, {"id": "name", "type": "integer"}) == [
        ("fields[1].id", "duplicate field id 'name'")
    ]


def test_the_same_id_in_different_groups_is_fine() -> None:
    assert (
        findings(
            STRING,
            {"id": "a", "type": "group", "fields": [STRING]},
            {"id": "b", "type": "group", "fields": [STRING]},
        )
        == []
    )


def test_nested_fields_are_checked_with_their_path() -> None:
    group = {"id": "g", "type": "group", "fields": [STRING, {"id": "e", "type": "enum"}]}
    assert findings(group) == [("fields[0].fields[1].options", "enum fields need options")]


# -- conditions -----------------------------------------------------------------------------


def test_a_condition_may_refer_to_a_field_in_a_group() -> None:
    db = {"id": "db", "type": "group", "fields": [{"id": "engine", "type": "string"}]}
    shown = {**STRING, "visibleIf": {"field": "db.engine", "equals": "pg"}}
    assert findings(db, shown) == []


def test_a_condition_on_an_unknown_field_is_reported() -> None:
    shown = {**STRING, "requiredIf": {"field": "engine", "isSet": True}}
    assert findings(shown) == [("fields[0].requiredIf", "refers to unknown field 'engine'")]


def test_a_condition_on_a_nested_path_must_use_the_full_path() -> None:
    db = {"id": "db", "type": "group", "fields": [{"id": "engine", "type": "string"}]}
    shown = {**STRING, "visibleIf": {"field": "engine", "isSet": True}}
    assert findings(db, shown) == [("fields[1].visibleIf", "refers to unknown field 'engine'")]


def test_unknown_fields_are_found_inside_combinators() -> None:
    shown = {
        **STRING,
        "visibleIf": {"all": [{"not": {"field": "a", "isSet": True}}, {"field": "b", "in": [1]}]},
    }
    assert findings(shown) == [
        ("fields[0].visibleIf", "refers to unknown field 'a'"),
        ("fields[0].visibleIf", "refers to unknown field 'b'"),
    ]


def test_a_condition_cannot_refer_to_its_own_field() -> None:
    shown = {**STRING, "visibleIf": {"field": "name", "isSet": True}}
    assert findings(shown) == [
        ("fields[0].visibleIf", "a field's condition cannot refer to the field itself")
    ]


def test_malformed_conditions_are_reported_with_their_inner_path() -> None:
    other = {"id": "other", "type": "string"}
    shown = {**STRING, "visibleIf": {"any": [{"field": "other", "isSet": True}, {"equals": 1}]}}
    assert findings(other, shown) == [("fields[1].visibleIf", "any[1]: a comparison needs 'field'")]


def test_visible_if_conditions_that_depend_on_each_other_are_reported() -> None:
    # a is shown only without b and b only without a: no answer when both are given.
    a = {"id": "a", "type": "string", "visibleIf": {"field": "b", "isSet": False}}
    b = {"id": "b", "type": "string", "visibleIf": {"field": "a", "isSet": False}}
    assert findings(STRING, a, b) == [
        ("fields[1].visibleIf", "visibleIf conditions depend on each other: a → b → a")
    ]


def test_a_group_shown_by_its_own_field_is_a_cycle() -> None:
    group = {
        "id": "g",
        "type": "group",
        "visibleIf": {"field": "g.x", "isSet": True},
        "fields": [{"id": "x", "type": "string"}],
    }
    assert findings(group) == [
        ("fields[0].visibleIf", "visibleIf conditions depend on each other: g → g.x → g")
    ]


def test_a_chain_of_visible_if_conditions_is_not_a_cycle() -> None:
    assert (
        findings(
            {"id": "a", "type": "boolean"},
            {"id": "b", "type": "string", "visibleIf": {"field": "a", "equals": True}},
            {"id": "c", "type": "string", "visibleIf": {"field": "b", "isSet": True}},
            {"id": "d", "type": "string", "requiredIf": {"field": "e", "isSet": True}},
            {"id": "e", "type": "string", "requiredIf": {"field": "d", "isSet": True}},
        )
        == []
    )


# -- items ----------------------------------------------------------------------------------


def test_duplicate_action_ids_are_reported() -> None:
    ticket = {"id": "t", "type": "jira-ticket", "config": {"project": "P", "summary": "s"}}
    assert of_item(make_item(actions=[ticket, ticket])) == [
        ("spec.fulfillment.actions[1].id", "duplicate action id 't'")
    ]


def test_each_template_string_of_a_config_is_checked_at_its_path() -> None:
    call = {
        "id": "call",
        "type": "rest-api",
        "config": {
            "url": "https://api.test/{{ .current.name }}",
            "headers": {"X-Team": "{{ .current.team }}"},
            "json": {"tags": ["ok", "{{ .output.nope }}"]},
        },
    }
    assert of_item(make_item([STRING], [call])) == [
        (
            "spec.fulfillment.actions[0].config.headers.X-Team",
            ".current.team: no form field 'team'",
        ),
        (
            "spec.fulfillment.actions[0].config.json.tags[1]",
            ".output.nope: no earlier action produces output 'nope'",
        ),
    ]


def test_an_action_may_list_the_same_output_twice_only_once() -> None:
    call = {"id": "c", "type": "rest-api", "config": {"url": "u"}, "outputs": ["a", "a"]}
    assert of_item(make_item(actions=[call])) == [
        ("spec.fulfillment.actions[0].outputs[1]", "output 'a' is already produced by 'c'")
    ]


def test_config_problems_use_the_catalog_words() -> None:
    call = {"id": "c", "type": "github-commit", "config": {"repo": "acme/x", "mesage": "m"}}
    assert of_item(make_item(actions=[call])) == [
        ("spec.fulfillment.actions[0].config.message", "is required"),
        ("spec.fulfillment.actions[0].config.files", "is required"),
        ("spec.fulfillment.actions[0].config.mesage", "unknown field"),
    ]


def test_validation_message() -> None:
    assert validation_message({"type": "extra_forbidden", "msg": "Extra inputs"}) == "unknown field"
    assert validation_message({"type": "missing", "msg": "Field required"}) == "is required"
    assert validation_message({"type": "int_parsing", "msg": "Not an int"}) == "Not an int"


# -- bundles --------------------------------------------------------------------------------

DB = make_item([{"id": "db_name", "type": "string", "required": True}], item_id="db")


def test_a_sound_bundle_has_no_findings() -> None:
    bundle = make_bundle(
        [
            {"id": "a", "item": "db", "inputs": {"db_name": "{{ .current.name }}-a"}},
            {"id": "b", "item": "db", "inputs": {"db_name": "b"}, "dependsOn": ["a"]},
        ],
        [STRING],
    )
    assert of_bundle(bundle, DB) == []


def test_outputs_in_component_inputs_are_runtime_values() -> None:
    component = {"id": "a", "item": "db", "inputs": {"db_name": "{{ .output.anything }}"}}
    assert of_bundle(make_bundle([component]), DB) == []


def test_only_output_problems_are_left_to_run_time() -> None:
    component = {"id": "a", "item": "db", "inputs": {"db_name": "{{ .current.output.x }}"}}
    assert of_bundle(make_bundle([component]), DB) == [
        ("spec.components[0].inputs.db_name", ".current.output.x: no form field 'output.x'")
    ]


def test_required_field_hidden_by_its_group_condition_need_not_be_provided() -> None:
    item = make_item(
        [
            {"id": "replicated", "type": "boolean"},
            {
                "id": "replica",
                "type": "group",
                "visibleIf": {"field": "replicated", "equals": True},
                "fields": [{"id": "region", "type": "string", "required": True}],
            },
            {
                "id": "note",
                "type": "string",
                "required": True,
                "visibleIf": {"field": "replicated", "equals": True},
            },
        ],
        item_id="db",
    )
    assert of_bundle(make_bundle([{"id": "a", "item": "db"}]), item) == []


def test_required_field_in_an_unconditional_group_must_be_provided() -> None:
    item = make_item(
        [{"id": "g", "type": "group", "fields": [{"id": "x", "type": "string", "required": True}]}],
        item_id="db",
    )
    assert of_bundle(make_bundle([{"id": "a", "item": "db"}]), item) == [
        (
            "spec.components[0].inputs",
            "required field 'g.x' of item 'db' is not provided "
            "(add it to the bundle form or to this component's inputs)",
        )
    ]
    provided = make_bundle([{"id": "a", "item": "db", "inputs": {"g.x": "v"}}])
    assert of_bundle(provided, item) == []


def test_duplicate_component_ids_report_the_later_ones() -> None:
    bundle = make_bundle(
        [{"id": "a", "item": "db", "inputs": {"db_name": "x"}}] * 3,
    )
    assert of_bundle(bundle, DB) == [
        ("spec.components[1].id", "duplicate component id 'a'"),
        ("spec.components[2].id", "duplicate component id 'a'"),
    ]


def test_the_bundle_form_is_checked_like_an_item_form() -> None:
    bundle = make_bundle(
        [{"id": "a", "item": "db", "inputs": {"db_name": "x"}}],
        [{"id": "size", "type": "enum"}],
    )
    assert of_bundle(bundle, DB) == [("spec.form.fields[0].options", "enum fields need options")]


# -- the dependency graph ---------------------------------------------------------------------


def test_find_cycle_of_an_acyclic_graph_is_none() -> None:
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None
    assert find_cycle({}) is None


def test_find_cycle_returns_the_cycle_as_a_path() -> None:
    assert find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]
    assert find_cycle({"x": ["a"], "a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]


def test_find_cycle_finds_a_self_loop() -> None:
    assert find_cycle({"a": ["a"]}) == ["a", "a"]


def test_find_cycle_ignores_dependencies_outside_the_graph() -> None:
    assert find_cycle({"a": ["missing"], "b": ["a"]}) is None


def test_dependency_order_puts_dependencies_first() -> None:
    order = dependency_order({"web": ["db", "ns"], "db": ["ns"], "ns": [], "dns": ["web"]})
    assert order == ["ns", "db", "web", "dns"]


def test_dependency_order_keeps_the_written_order_of_independent_components() -> None:
    assert dependency_order({"c": [], "a": [], "b": []}) == ["c", "a", "b"]


def test_dependency_order_ignores_dependencies_outside_the_graph() -> None:
    assert dependency_order({"a": ["missing"], "b": ["a"]}) == ["a", "b"]


def test_dependency_order_of_a_cycle_is_an_error() -> None:
    with pytest.raises(ValueError, match="dependency cycle"):
        dependency_order({"a": ["b"], "b": ["a"], "c": []})


def _bundle_problems(inputs: str) -> list[str]:
    from loom.catalog.loader import load_files

    item = (
        "apiVersion: loom/v1\nkind: CatalogItem\nmetadata: {id: dns, name: DNS, category: net}\n"
        "spec:\n  form:\n    fields:\n"
        "      - {id: kind, type: enum, options: [A, CNAME], required: true}\n"
        "      - {id: token, type: secret}\n"
        "      - id: owner\n        type: group\n        fields:\n"
        "          - {id: email, type: email, required: true}\n"
        "  fulfillment:\n    actions: [{id: t, type: jira-ticket, config: {project: X, summary: s}}]\n"
    )
    bundle = (
        "apiVersion: loom/v1\nkind: CatalogBundle\nmetadata: {id: b, name: B, category: x}\n"
        "spec:\n  form:\n    fields: [{id: name, type: string, required: true}]\n"
        f"  components:\n    - id: d\n      item: dns\n      inputs: {inputs}\n"
    )
    loaded = load_files([("catalog/dns.yaml", item), ("bundles/b.yaml", bundle)])
    return [f"{p.path}: {p.message}" for p in loaded.problems]


def test_bundle_inputs_for_a_group_may_be_nested() -> None:
    assert _bundle_problems("{kind: A, owner: {email: a@x.io}}") == []
    assert _bundle_problems('{kind: A, "owner.email": a@x.io}') == []


def test_fixed_bundle_inputs_are_checked_against_the_item_field() -> None:
    assert _bundle_problems("{kind: MX, owner: {email: not-an-email}}") == [
        "spec.components[0].inputs.kind: 'MX' must be one of A, CNAME (field 'kind' of item 'dns')",
        "spec.components[0].inputs.owner.email: 'not-an-email' must be an email address "
        "(field 'owner.email' of item 'dns')",
    ]


def test_templated_bundle_inputs_are_not_value_checked() -> None:
    assert _bundle_problems('{kind: "{{ .current.name }}", owner: {email: a@x.io}}') == []


def test_a_secret_cannot_be_fixed_in_a_bundle() -> None:
    assert _bundle_problems("{kind: A, token: hunter2, owner: {email: a@x.io}}") == [
        "spec.components[0].inputs.token: a secret cannot be written into the catalog: "
        "template it from the bundle form"
    ]
