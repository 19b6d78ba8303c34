"""form_input: the one check of what a person typed into a form (types and the coercions an
HTML form needs, defaults, required/requiredIf, visibleIf dropping hidden values, patterns,
ranges, lengths, options), with secrets kept apart and every error at its dotted path."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import pytest

from loom.catalog.documents import CatalogBundle, CatalogItem, Form, FormField
from loom.catalog.form_input import (
    PATTERN_TIMEOUT_SECONDS,
    ValidatedInput,
    check_value,
    validate_form,
    validate_input,
)


def field(**spec: Any) -> FormField:
    return FormField.model_validate({"id": "f", **spec})


def form(*fields: dict[str, Any]) -> Form:
    return Form.model_validate({"fields": list(fields)})


def errors(result: ValidatedInput) -> list[tuple[str, str]]:
    return [(e.field, e.issue) for e in result.errors]


def ok(spec: dict[str, Any], raw: Any) -> Any:
    value, issue = check_value(field(**spec), raw)
    assert issue is None, issue
    return value


def issue(spec: dict[str, Any], raw: Any) -> str:
    value, problem = check_value(field(**spec), raw)
    assert problem is not None, f"{raw!r} was accepted as {value!r}"
    return problem


# -- one value of each type -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        ("string", "db-1", "db-1"),
        ("text", "line 1\nline 2", "line 1\nline 2"),
        ("secret", "hunter2", "hunter2"),
        ("integer", 42, 42),
        ("integer", "42", 42),
        ("integer", " -7 ", -7),
        ("integer", 4.0, 4),
        ("number", 3.5, 3.5),
        ("number", "3.5", 3.5),
        ("number", 2, 2),
        ("number", "-1e3", -1000.0),
        ("boolean", True, True),
        ("boolean", False, False),
        ("boolean", "on", True),
        ("boolean", "true", True),
        ("boolean", "Yes", True),
        ("boolean", "1", True),
        ("boolean", "off", False),
        ("boolean", "false", False),
        ("boolean", "no", False),
        ("boolean", "0", False),
        ("email", "dev@example.com", "dev@example.com"),
        ("url", "https://example.com/x?y=1", "https://example.com/x?y=1"),
        ("url", "HTTP://EXAMPLE.COM", "HTTP://EXAMPLE.COM"),
        ("date", "2024-02-29", "2024-02-29"),
        ("date", "20240131", "2024-01-31"),
        ("date", date(2024, 1, 31), "2024-01-31"),
    ],
)
def test_valid_values_are_typed(kind: str, raw: Any, value: Any) -> None:
    typed = ok({"type": kind}, raw)
    assert typed == value
    assert type(typed) is type(value)


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("string", 5, "must be text"),
        ("string", ["a"], "must be text"),
        ("secret", {"a": 1}, "must be text"),
        ("integer", "4.5", "must be a whole number"),
        ("integer", 4.5, "must be a whole number"),
        ("integer", "four", "must be a whole number"),
        ("integer", True, "must be a whole number"),
        ("integer", "9" * 5000, "must be a whole number"),  # over Python's digit limit
        ("number", "three", "must be a number"),
        ("number", False, "must be a number"),
        ("number", "nan", "must be a number"),
        ("number", float("nan"), "must be a number"),
        ("number", "inf", "must be a number"),
        ("number", float("-inf"), "must be a number"),
        ("boolean", "maybe", "must be true or false"),
        ("boolean", 1, "must be true or false"),
        ("email", "dev@localhost", "must be an email address"),
        ("email", "dev example.com", "must be an email address"),
        ("email", "a@b@c.d", "must be an email address"),
        ("url", "ftp://example.com", "must be an http(s) URL"),
        ("url", "example.com", "must be an http(s) URL"),
        ("url", "https://exa mple.com", "must be an http(s) URL"),
        ("date", "2023-02-29", "must be a date (YYYY-MM-DD)"),
        ("date", "31/01/2024", "must be a date (YYYY-MM-DD)"),
        ("date", 20240131, "must be text"),
    ],
)
def test_invalid_values_are_refused(kind: str, raw: Any, message: str) -> None:
    assert issue({"type": kind}, raw) == message


def test_enum_takes_an_option_or_its_text() -> None:
    spec = {"type": "enum", "options": ["small", 2, True]}
    assert ok(spec, "small") == "small"
    assert ok(spec, 2) == 2
    assert ok(spec, "2") == 2  # from an HTML form
    assert ok(spec, True) is True
    assert issue(spec, "huge") == "must be one of small, 2, True"


def test_enum_does_not_confuse_booleans_and_numbers() -> None:
    assert issue({"type": "enum", "options": [0, 1]}, True) == "must be one of 0, 1"
    assert issue({"type": "enum", "options": [True, False]}, 1) == "must be one of True, False"


def test_enum_options_with_labels_match_by_value() -> None:
    spec = {"type": "enum", "options": [{"value": "s", "label": "Small"}]}
    assert ok(spec, "s") == "s"
    assert issue(spec, "Small") == "must be one of s"


def test_multi_enum_takes_a_list_of_options() -> None:
    spec = {"type": "multi-enum", "options": ["a", "b", 3]}
    assert ok(spec, ["b", "a"]) == ["b", "a"]
    assert ok(spec, ["3"]) == [3]
    assert ok(spec, "a") == ["a"]  # one checkbox ticked in an HTML form
    assert issue(spec, ["a", "x", "y"]) == "has unknown option(s) x, y"
    assert issue(spec, {"a": True}) == "must be a list of options"
    assert issue(spec, ["a", "a"]) == "lists an option more than once"
    assert issue(spec, [3, "3"]) == "lists an option more than once"


# -- constraints ----------------------------------------------------------------------------


def test_pattern_must_match_the_whole_value() -> None:
    spec = {"type": "string", "pattern": "[a-z]+"}
    assert ok(spec, "abc") == "abc"
    assert issue(spec, "abc1") == "must match the pattern [a-z]+"
    assert issue(spec, "1abc") == "must match the pattern [a-z]+"
    assert issue(spec, "abc\n") == "must match the pattern [a-z]+"


def test_pattern_alternatives_are_all_anchored() -> None:
    spec = {"type": "string", "pattern": "dev|prod"}
    assert ok(spec, "prod") == "prod"
    assert issue(spec, "production") == "must match the pattern dev|prod"


def test_catastrophic_backtracking_fails_fast_with_a_clear_error() -> None:
    started = time.monotonic()
    assert issue({"type": "string", "pattern": "(a+)+$"}, "a" * 40 + "b") == (
        "must match the pattern (a+)+$"
    )
    assert time.monotonic() - started < 1


def test_a_pattern_too_slow_to_check_times_out_with_a_clear_error() -> None:
    started = time.monotonic()
    assert issue({"type": "string", "pattern": "(a|aa)+$"}, "a" * 60 + "b") == (
        "could not be checked against the pattern in time"
    )
    assert time.monotonic() - started < PATTERN_TIMEOUT_SECONDS + 1


@pytest.mark.parametrize(
    ("spec", "raw", "message"),
    [
        ({"type": "integer", "min": 1}, 0, "must be at least 1"),
        ({"type": "integer", "max": 10}, "11", "must be at most 10"),
        ({"type": "number", "min": 0.5}, 0.25, "must be at least 0.5"),
        ({"type": "number", "max": 1.5}, 2, "must be at most 1.5"),
        ({"type": "string", "minLength": 3}, "ab", "must have at least 3 character(s)"),
        ({"type": "text", "maxLength": 3}, "abcd", "must have at most 3 character(s)"),
        ({"type": "secret", "minLength": 8}, "short", "must have at least 8 character(s)"),
        (
            {"type": "multi-enum", "options": ["a", "b", "c"], "minLength": 2},
            ["a"],
            "must have at least 2 option(s)",
        ),
        (
            {"type": "multi-enum", "options": ["a", "b", "c"], "maxLength": 1},
            ["a", "b"],
            "must have at most 1 option(s)",
        ),
    ],
)
def test_ranges_and_lengths(spec: dict[str, Any], raw: Any, message: str) -> None:
    assert issue(spec, raw) == message


def test_range_and_length_bounds_are_inclusive() -> None:
    assert ok({"type": "integer", "min": 1, "max": 3}, 1) == 1
    assert ok({"type": "integer", "min": 1, "max": 3}, 3) == 3
    assert ok({"type": "string", "minLength": 2, "maxLength": 2}, "ab") == "ab"


# -- whole forms ----------------------------------------------------------------------------


def test_valid_input_gives_typed_nested_values() -> None:
    result = validate_form(
        form(
            {"id": "name", "type": "string"},
            {"id": "db", "type": "group", "fields": [{"id": "size", "type": "integer"}]},
        ),
        {"name": "svc", "db": {"size": "20"}},
    )
    assert result.ok
    assert result.values == {"name": "svc", "db": {"size": 20}}
    assert result.secrets == {}


def test_defaults_are_applied_to_missing_and_empty_values() -> None:
    defaults = form(
        {"id": "size", "type": "enum", "options": ["s", "m"], "default": "s"},
        {"id": "count", "type": "integer", "default": 1},
        {"id": "on", "type": "boolean", "default": True},
        {
            "id": "db",
            "type": "group",
            "fields": [{"id": "engine", "type": "string", "default": "pg"}],
        },
    )
    assert validate_form(defaults, {}).values == {
        "size": "s",
        "count": 1,
        "on": True,
        "db": {"engine": "pg"},
    }
    given = validate_form(defaults, {"size": "", "count": None, "on": False, "db": {"engine": ""}})
    assert given.values == {"size": "s", "count": 1, "on": False, "db": {"engine": "pg"}}


def test_optional_fields_left_empty_are_absent() -> None:
    result = validate_form(form({"id": "note", "type": "string"}), {"note": ""})
    assert result.ok and result.values == {}


def test_unknown_fields_are_rejected_at_every_level() -> None:
    result = validate_form(
        form(
            {"id": "name", "type": "string"},
            {"id": "db", "type": "group", "fields": [{"id": "size", "type": "integer"}]},
        ),
        {"name": "x", "nmae": "y", "db": {"size": 1, "sise": 2}},
    )
    assert errors(result) == [("nmae", "unknown field"), ("db.sise", "unknown field")]


def test_input_must_be_an_object() -> None:
    result = validate_form(form({"id": "name", "type": "string"}), ["name"])
    assert errors(result) == [("input", "must be an object of field values")]


def test_a_group_value_must_be_an_object() -> None:
    group = {"id": "db", "type": "group", "fields": [{"id": "size", "type": "integer"}]}
    assert errors(validate_form(form(group), {"db": "big"})) == [
        ("db", "must be an object of field values")
    ]


def test_required_fields() -> None:
    required = form(
        {"id": "name", "type": "string", "required": True},
        {"id": "tags", "type": "multi-enum", "options": ["a"], "required": True},
        {"id": "agree", "type": "boolean", "required": True},
        {
            "id": "db",
            "type": "group",
            "fields": [{"id": "size", "type": "integer", "required": True}],
        },
    )
    assert errors(validate_form(required, {})) == [
        ("name", "is required"),
        ("tags", "is required"),
        ("agree", "is required"),
        ("db.size", "is required"),
    ]
    assert errors(validate_form(required, {"name": "", "tags": [], "agree": None})) == [
        ("name", "is required"),
        ("tags", "is required"),
        ("agree", "is required"),
        ("db.size", "is required"),
    ]
    given = {"name": "x", "tags": ["a"], "agree": False, "db": {"size": 0}}
    assert validate_form(required, given).ok  # False and 0 are values


def test_a_required_field_with_a_default_is_never_missing() -> None:
    result = validate_form(form({"id": "n", "type": "integer", "required": True, "default": 3}), {})
    assert result.ok and result.values == {"n": 3}


def test_a_type_error_is_not_also_reported_as_missing() -> None:
    result = validate_form(form({"id": "n", "type": "integer", "required": True}), {"n": "x"})
    assert errors(result) == [("n", "must be a whole number")]


def test_required_if() -> None:
    fields = form(
        {"id": "env", "type": "enum", "options": ["dev", "prod"]},
        {"id": "ticket", "type": "string", "requiredIf": {"field": "env", "equals": "prod"}},
    )
    assert errors(validate_form(fields, {"env": "prod"})) == [("ticket", "is required")]
    assert validate_form(fields, {"env": "dev"}).ok
    assert validate_form(fields, {"env": "prod", "ticket": "OPS-1"}).ok


def test_required_if_sees_typed_values() -> None:
    fields = form(
        {"id": "replicas", "type": "integer"},
        {"id": "reason", "type": "string", "requiredIf": {"field": "replicas", "in": [5, 6]}},
    )
    assert errors(validate_form(fields, {"replicas": "5"})) == [("reason", "is required")]


def test_required_if_sees_defaults() -> None:
    fields = form(
        {"id": "env", "type": "enum", "options": ["dev", "prod"], "default": "prod"},
        {"id": "ticket", "type": "string", "requiredIf": {"field": "env", "equals": "prod"}},
    )
    assert errors(validate_form(fields, {})) == [("ticket", "is required")]


def test_hidden_fields_values_are_dropped() -> None:
    fields = form(
        {"id": "public", "type": "boolean", "default": False},
        {"id": "reason", "type": "string", "visibleIf": {"field": "public", "equals": True}},
    )
    assert validate_form(fields, {"reason": "because"}).values == {"public": False}
    shown = validate_form(fields, {"public": "on", "reason": "because"})
    assert shown.values == {"public": True, "reason": "because"}


def test_hidden_fields_are_neither_required_nor_checked() -> None:
    fields = form(
        {"id": "public", "type": "boolean", "default": False},
        {
            "id": "reason",
            "type": "string",
            "required": True,
            "minLength": 10,
            "visibleIf": {"field": "public", "equals": True},
        },
    )
    assert validate_form(fields, {"reason": "short"}).ok
    assert errors(validate_form(fields, {"public": True, "reason": "short"})) == [
        ("reason", "must have at least 10 character(s)")
    ]
    assert errors(validate_form(fields, {"public": True})) == [("reason", "is required")]


def test_hidden_group_drops_its_values() -> None:
    fields = form(
        {"id": "ha", "type": "boolean", "default": False},
        {
            "id": "replica",
            "type": "group",
            "visibleIf": {"field": "ha", "equals": True},
            "fields": [
                {"id": "region", "type": "string", "required": True},
                {"id": "count", "type": "integer", "default": 1},
                {"id": "token", "type": "secret"},
            ],
        },
    )
    hidden = validate_form(fields, {"replica": {"region": "eu", "count": "x", "token": "t"}})
    assert hidden.ok, errors(hidden)
    assert hidden.values == {"ha": False}
    assert hidden.secrets == {}
    shown = validate_form(fields, {"ha": True, "replica": {"token": "t"}})
    assert errors(shown) == [("replica.region", "is required")]
    assert shown.values == {"ha": True, "replica": {"count": 1}}
    assert shown.secrets == {"replica.token": "t"}


def test_unknown_fields_in_a_hidden_group_are_still_reported() -> None:
    fields = form(
        {"id": "ha", "type": "boolean", "default": False},
        {
            "id": "replica",
            "type": "group",
            "visibleIf": {"field": "ha", "equals": True},
            "fields": [{"id": "region", "type": "string"}],
        },
    )
    assert errors(validate_form(fields, {"replica": {"regoin": "eu"}})) == [
        ("replica.regoin", "unknown field")
    ]


def test_a_chain_of_conditions_settles() -> None:
    # A hides B; B's value would show C, but a hidden B's value no longer counts.
    fields = form(
        {"id": "a", "type": "boolean", "default": False},
        {"id": "b", "type": "string", "visibleIf": {"field": "a", "equals": True}},
        {
            "id": "c",
            "type": "string",
            "required": True,
            "visibleIf": {"field": "b", "equals": "show-c"},
        },
    )
    hidden_chain = validate_form(fields, {"b": "show-c", "c": "value"})
    assert hidden_chain.ok
    assert hidden_chain.values == {"a": False}
    shown_chain = validate_form(fields, {"a": True, "b": "show-c"})
    assert errors(shown_chain) == [("c", "is required")]
    assert shown_chain.values == {"a": True, "b": "show-c"}


def test_a_chain_written_in_reverse_order_settles_too() -> None:
    fields = form(
        {"id": "c", "type": "string", "visibleIf": {"field": "b", "equals": "x"}},
        {"id": "b", "type": "string", "visibleIf": {"field": "a", "equals": True}},
        {"id": "a", "type": "boolean", "default": False},
    )
    assert validate_form(fields, {"b": "x", "c": "kept?"}).values == {"a": False}


def test_conditions_read_fields_inside_groups() -> None:
    fields = form(
        {
            "id": "db",
            "type": "group",
            "fields": [{"id": "engine", "type": "enum", "options": ["pg", "my"]}],
        },
        {"id": "extensions", "type": "string", "visibleIf": {"field": "db.engine", "equals": "pg"}},
    )
    assert validate_form(fields, {"db": {"engine": "pg"}, "extensions": "x"}).values == {
        "db": {"engine": "pg"},
        "extensions": "x",
    }
    assert validate_form(fields, {"db": {"engine": "my"}, "extensions": "x"}).values == {
        "db": {"engine": "my"}
    }


def test_conditions_on_multi_enum_values() -> None:
    fields = form(
        {"id": "features", "type": "multi-enum", "options": ["ha", "backup"]},
        {"id": "schedule", "type": "string", "visibleIf": {"field": "features", "in": ["backup"]}},
    )
    assert validate_form(fields, {"features": ["ha", "backup"], "schedule": "daily"}).values == {
        "features": ["ha", "backup"],
        "schedule": "daily",
    }
    assert "schedule" not in validate_form(fields, {"features": ["ha"], "schedule": "x"}).values


def test_secrets_are_split_out_of_values() -> None:
    fields = form(
        {"id": "name", "type": "string"},
        {"id": "password", "type": "secret", "required": True},
        {"id": "api", "type": "group", "fields": [{"id": "token", "type": "secret"}]},
    )
    result = validate_form(fields, {"name": "svc", "password": "hunter2", "api": {"token": "t0k"}})
    assert result.ok
    assert result.secrets == {"password": "hunter2", "api.token": "t0k"}
    assert result.values == {"name": "svc"}
    assert "hunter2" not in repr(result.values) and "t0k" not in repr(result.values)
    assert "hunter2" not in repr(result) and "t0k" not in repr(result)  # e.g. in a log line


def test_secret_values_are_not_echoed_in_errors() -> None:
    fields = form({"id": "password", "type": "secret", "minLength": 12, "pattern": "[a-z]+"})
    result = validate_form(fields, {"password": "hunter2"})
    assert errors(result) == [("password", "must have at least 12 character(s)")]
    assert "hunter2" not in repr(result)


def test_every_error_is_reported_with_its_dotted_path() -> None:
    fields = form(
        {"id": "name", "type": "string", "pattern": "[a-z]+"},
        {
            "id": "db",
            "type": "group",
            "fields": [
                {"id": "size", "type": "integer", "max": 10},
                {"id": "backup", "type": "group", "fields": [{"id": "day", "type": "date"}]},
            ],
        },
    )
    result = validate_form(fields, {"name": "Bad", "db": {"size": 11, "backup": {"day": "monday"}}})
    assert errors(result) == [
        ("name", "must match the pattern [a-z]+"),
        ("db.size", "must be at most 10"),
        ("db.backup.day", "must be a date (YYYY-MM-DD)"),
    ]
    assert result.values == {}


def test_dates_are_stored_normalised() -> None:
    result = validate_form(form({"id": "day", "type": "date"}), {"day": "20240131"})
    assert result.values == {"day": "2024-01-31"}


def test_validate_input_uses_the_form_of_an_item_or_a_bundle() -> None:
    item = CatalogItem.model_validate(
        {
            "apiVersion": "loom/v1",
            "kind": "CatalogItem",
            "metadata": {"id": "x", "name": "X", "category": "c"},
            "spec": {
                "form": {"fields": [{"id": "name", "type": "string", "required": True}]},
                "fulfillment": {"actions": [{"id": "a", "type": "terraform"}]},
            },
        }
    )
    bundle = CatalogBundle.model_validate(
        {
            "apiVersion": "loom/v1",
            "kind": "CatalogBundle",
            "metadata": {"id": "b", "name": "B", "category": "c"},
            "spec": {
                "form": {"fields": [{"id": "team", "type": "string", "required": True}]},
                "components": [{"id": "x", "item": "x"}],
            },
        }
    )
    assert errors(validate_input(item, {})) == [("name", "is required")]
    assert errors(validate_input(bundle, {})) == [("team", "is required")]
    assert validate_input(bundle, {"team": "a"}).values == {"team": "a"}
