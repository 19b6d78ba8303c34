"""form_view: the form resolved for rendering, and a JSON Schema of valid input that agrees
with `validate_form` (checked with the `jsonschema` package).

Known differences, by design (the server's check is the one that counts):
- the server coerces what HTML forms send ("42" → 42, "on" → true, "" or null → not
  given, a lone "a" → ["a"] for a multi-enum, "20240131" → "2024-01-31"); the schema
  describes canonical JSON input only;
- the server drops the values of hidden fields without checking them; the schema checks
  every value it is given (it only stops *requiring* hidden fields);
- conditions: the server evaluates them with defaults applied, the schema on the input
  as sent (clients that render the form send the defaults);
- `format` (email, uri, date) is an annotation in draft 2020-12: only the server checks it.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from loom.catalog.documents import Form, FormField
from loom.catalog.form_input import validate_form
from loom.catalog.form_view import field_view, form_json_schema, form_view

RICH = Form.model_validate(
    {
        "fields": [
            {"id": "name", "type": "string", "required": True, "pattern": "[a-z][a-z0-9-]{2,20}"},
            {"id": "description", "type": "text", "maxLength": 20},
            {"id": "replicas", "type": "integer", "min": 1, "max": 5},
            {"id": "ratio", "type": "number", "min": 0, "max": 1},
            {"id": "public", "type": "boolean", "default": False},
            {
                "id": "justification",
                "type": "text",
                "minLength": 3,
                "visibleIf": {"field": "public", "equals": True},
                "required": True,
            },
            {"id": "env", "type": "enum", "options": ["dev", "prod"], "required": True},
            {
                "id": "ticket",
                "type": "string",
                "requiredIf": {"field": "env", "equals": "prod"},
            },
            {
                "id": "size",
                "type": "enum",
                "options": [{"value": "s", "label": "Small"}, "m"],
                "default": "s",
                "required": True,
            },
            {"id": "features", "type": "multi-enum", "options": ["ha", "backup"], "maxLength": 2},
            {
                "id": "schedule",
                "type": "string",
                "visibleIf": {"field": "features", "in": ["backup"]},
                "required": True,
            },
            {"id": "password", "type": "secret", "minLength": 8},
            {
                "id": "db",
                "type": "group",
                "fields": [
                    {"id": "engine", "type": "enum", "options": ["pg", "my"], "required": True},
                    {"id": "version", "type": "integer"},
                ],
            },
            {
                "id": "replica",
                "type": "group",
                "visibleIf": {"field": "replicas", "in": [2, 3, 4, 5]},
                "fields": [
                    {"id": "region", "type": "string", "required": True},
                    {
                        "id": "reason",
                        "type": "string",
                        "requiredIf": {"field": "env", "equals": "prod"},
                    },
                ],
            },
            {"id": "contact", "type": "email"},
            {"id": "start", "type": "date"},
        ]
    }
)

MINIMAL = {"name": "svc", "env": "dev", "db": {"engine": "pg"}}

ACCEPTED: list[dict[str, Any]] = [
    MINIMAL,
    {**MINIMAL, "public": False, "size": "m", "ratio": 0.5, "description": "short"},
    {**MINIMAL, "public": True, "justification": "needed by partners"},
    {**MINIMAL, "env": "prod", "ticket": "OPS-1"},
    {**MINIMAL, "features": ["ha"]},
    {**MINIMAL, "features": ["ha", "backup"], "schedule": "daily"},
    {**MINIMAL, "replicas": 1},
    {**MINIMAL, "replicas": 3, "replica": {"region": "eu"}},
    {
        **MINIMAL,
        "env": "prod",
        "ticket": "T-2",
        "replicas": 2,
        "replica": {"region": "eu", "reason": "r"},
    },
    {**MINIMAL, "password": "long enough", "db": {"engine": "my", "version": 8}},
    {**MINIMAL, "contact": "dev@example.com", "start": "2024-01-31"},
]

#: (reason, input): each rejected by validate_form for a type, pattern, required or enum
#: reason, and so invalid against the schema too.
REJECTED: list[tuple[str, dict[str, Any]]] = [
    ("required name missing", {"env": "dev", "db": {"engine": "pg"}}),
    ("required name empty", {**MINIMAL, "name": ""}),
    ("required enum missing", {"name": "svc", "db": {"engine": "pg"}}),
    ("required field in group missing", {**MINIMAL, "db": {}}),
    ("required group field, group missing", {"name": "svc", "env": "dev"}),
    ("requiredIf holds", {**MINIMAL, "env": "prod"}),
    ("requiredIf holds, empty", {**MINIMAL, "env": "prod", "ticket": ""}),
    ("shown required field missing", {**MINIMAL, "public": True}),
    ("shown by multi-enum choice", {**MINIMAL, "features": ["backup"]}),
    ("shown group's required field", {**MINIMAL, "replicas": 2, "replica": {}}),
    (
        "shown group's requiredIf",
        {**MINIMAL, "env": "prod", "ticket": "T", "replicas": 2, "replica": {"region": "eu"}},
    ),
    ("pattern", {**MINIMAL, "name": "Svc"}),
    ("pattern, trailing newline", {**MINIMAL, "name": "svc\n"}),
    ("pattern, prefix only", {**MINIMAL, "name": "svc!"}),
    ("maxLength", {**MINIMAL, "description": "x" * 21}),
    ("minLength of a shown field", {**MINIMAL, "public": True, "justification": "no"}),
    ("secret minLength", {**MINIMAL, "password": "short"}),
    ("integer type", {**MINIMAL, "replicas": 1.5}),
    ("integer type, text", {**MINIMAL, "replicas": "x"}),
    ("minimum", {**MINIMAL, "replicas": 0}),
    ("maximum", {**MINIMAL, "ratio": 1.5}),
    ("number type", {**MINIMAL, "ratio": "half"}),
    ("boolean type", {**MINIMAL, "public": "maybe"}),
    ("enum", {**MINIMAL, "env": "staging"}),
    ("enum by label", {**MINIMAL, "size": "Small"}),
    ("enum in group", {**MINIMAL, "db": {"engine": "oracle"}}),
    ("multi-enum option", {**MINIMAL, "features": ["ha", "gpu"]}),
    ("multi-enum repeated", {**MINIMAL, "features": ["ha", "ha"]}),
    ("multi-enum type", {**MINIMAL, "features": {"ha": True}}),
    ("text type", {**MINIMAL, "description": 5}),
    ("unknown field", {**MINIMAL, "colour": "blue"}),
    ("unknown field in group", {**MINIMAL, "db": {"engine": "pg", "sise": 1}}),
    ("group type", {**MINIMAL, "db": "pg"}),
]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = form_json_schema(RICH, title="Rich")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("data", ACCEPTED)
def test_input_the_server_accepts_is_valid_against_the_schema(
    validator: Draft202012Validator, data: dict[str, Any]
) -> None:
    assert validate_form(RICH, data).ok, validate_form(RICH, data).errors
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize(("reason", "data"), REJECTED, ids=[r for r, _ in REJECTED])
def test_input_the_server_rejects_is_invalid_against_the_schema(
    validator: Draft202012Validator, reason: str, data: dict[str, Any]
) -> None:
    assert not validate_form(RICH, data).ok, reason
    assert not validator.is_valid(data), reason


def test_known_difference_lenient_coercions_are_server_only(
    validator: Draft202012Validator,
) -> None:
    data = {**MINIMAL, "replicas": "1", "public": "off", "features": "ha", "description": ""}
    assert validate_form(RICH, data).ok
    assert not validator.is_valid(data)


def test_known_difference_hidden_values_are_dropped_not_checked_by_the_server(
    validator: Draft202012Validator,
) -> None:
    data = {**MINIMAL, "public": False, "justification": 5}
    assert validate_form(RICH, data).ok
    assert not validator.is_valid(data)


def test_known_difference_formats_are_checked_by_the_server_only(
    validator: Draft202012Validator,
) -> None:
    data = {**MINIMAL, "contact": "not-an-email", "start": "someday"}
    assert not validate_form(RICH, data).ok
    assert validator.is_valid(data)


def test_schema_shape() -> None:
    schema = form_json_schema(RICH, title="Rich")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Rich"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name", "env"]  # size has a default; db.engine is a rule
    properties = schema["properties"]
    assert properties["replicas"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert properties["size"]["enum"] == ["s", "m"] and properties["size"]["default"] == "s"
    assert properties["features"]["items"] == {"enum": ["ha", "backup"]}
    assert properties["features"]["maxItems"] == 2
    assert properties["password"]["writeOnly"] is True
    assert properties["contact"]["format"] == "email"
    assert properties["db"]["properties"]["engine"] == {"enum": ["pg", "my"]}


def test_a_form_without_rules_has_no_all_of() -> None:
    schema = form_json_schema(Form.model_validate({"fields": [{"id": "a", "type": "string"}]}))
    assert "allOf" not in schema and "required" not in schema and "title" not in schema


# -- the form for rendering -------------------------------------------------------------------


def test_form_view_resolves_fields_for_rendering() -> None:
    view = form_view(RICH)
    assert [f["path"] for f in view][:3] == ["name", "description", "replicas"]
    size = next(f for f in view if f["id"] == "size")
    assert size["title"] == "Size"
    assert size["default"] == "s"
    assert size["required"] is True
    assert size["options"] == [{"value": "s", "label": "Small"}, {"value": "m", "label": "m"}]
    assert size["visibleIf"] is None


def test_form_view_gives_conditions_in_document_spelling() -> None:
    view = {f["id"]: f for f in form_view(RICH)}
    assert view["schedule"]["visibleIf"] == {"field": "features", "in": ["backup"]}
    assert view["ticket"]["requiredIf"] == {"field": "env", "equals": "prod"}
    nested = Form.model_validate(
        {
            "fields": [
                {"id": "a", "type": "string"},
                {
                    "id": "b",
                    "type": "string",
                    "visibleIf": {"not": {"field": "a", "notIn": ["x"], "equals": None}},
                },
            ]
        }
    )
    assert form_view(nested)[1]["visibleIf"] == {
        "not": {"field": "a", "notIn": ["x"], "equals": None}
    }


def test_form_view_nests_group_fields_with_their_paths() -> None:
    db = next(f for f in form_view(RICH) if f["id"] == "db")
    assert [(f["path"], f["title"]) for f in db["fields"]] == [
        ("db.engine", "Engine"),
        ("db.version", "Version"),
    ]
    assert "fields" not in next(f for f in form_view(RICH) if f["id"] == "name")


def test_field_view_keeps_constraints_for_client_hints() -> None:
    view = field_view(
        FormField.model_validate(
            {
                "id": "db_name",
                "type": "string",
                "title": "Database",
                "help": "Lowercase",
                "placeholder": "orders",
                "pattern": "[a-z]+",
                "minLength": 3,
                "maxLength": 30,
            }
        ),
        "db_name",
    )
    assert view["title"] == "Database"
    assert (view["help"], view["placeholder"]) == ("Lowercase", "orders")
    assert (view["pattern"], view["minLength"], view["maxLength"]) == ("[a-z]+", 3, 30)
    assert view["options"] is None


def test_secret_defaults_never_appear_in_the_view_or_schema() -> None:
    # The catalog rules refuse a secret default; the view must not leak one regardless.
    secret = FormField.model_validate({"id": "token", "type": "secret", "default": "hunter2"})
    assert field_view(secret, "token")["default"] is None
    schema = form_json_schema(Form(fields=[secret]))
    assert "default" not in schema["properties"]["token"]
    assert "hunter2" not in repr(form_view(Form(fields=[secret]))) + repr(schema)
