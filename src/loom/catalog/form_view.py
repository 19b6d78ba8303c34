"""A form resolved for rendering (portal, CLI, any client): fields with defaults, options
and conditions, plus a JSON Schema of valid input. The schema mirrors `validate_input`
for clients that validate before posting; the server's check is still the one that counts.
"""

from __future__ import annotations

from typing import Any

from loom.catalog.documents import Condition, Form, FormField

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "text": {"type": "string"},
    "secret": {"type": "string", "writeOnly": True},
    "email": {"type": "string", "format": "email"},
    "url": {"type": "string", "format": "uri"},
    "date": {"type": "string", "format": "date"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
}


def _given() -> dict[str, Any]:
    """A value the server does not treat as "not given" (null, "" or [])."""
    return {"not": {"enum": [None, "", []]}}


def condition_json(condition: Condition | None) -> dict[str, Any] | None:
    if condition is None:
        return None
    return condition.model_dump(by_alias=True, exclude_unset=True)


def field_view(field: FormField, path: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": field.id,
        "path": path,
        "type": field.type,
        "title": field.title or field.id.replace("_", " ").capitalize(),
        "help": field.help,
        "placeholder": field.placeholder,
        "required": field.required,
        "default": None if field.type == "secret" else field.default,
        "pattern": field.pattern,
        "min": field.min,
        "max": field.max,
        "minLength": field.min_length,
        "maxLength": field.max_length,
        "options": [
            {"value": o.value, "label": o.label or str(o.value)} for o in field.option_items()
        ]
        or None,
        "visibleIf": condition_json(field.visible_if),
        "requiredIf": condition_json(field.required_if),
    }
    if field.type == "group":
        view["fields"] = [field_view(f, f"{path}.{f.id}") for f in field.fields or []]
    return view


def form_view(form: Form) -> list[dict[str, Any]]:
    return [field_view(f, f.id) for f in form.fields]


def _path_schema(path: list[str], leaf: dict[str, Any], require: bool = True) -> dict[str, Any]:
    """A schema that constrains the value at a nested path."""
    head, *rest = path
    inner = leaf if not rest else _path_schema(rest, leaf, require)
    schema: dict[str, Any] = {"properties": {head: inner}}
    if require:
        schema["required"] = [head]
    return schema


def condition_schema(condition: Condition) -> dict[str, Any]:
    """The JSON Schema that input satisfies exactly when `condition` holds."""
    if condition.all is not None:
        return {"allOf": [condition_schema(c) for c in condition.all]}
    if condition.any is not None:
        return {"anyOf": [condition_schema(c) for c in condition.any]}
    if condition.not_ is not None:
        return {"not": condition_schema(condition.not_)}
    path = (condition.field or "").split(".")
    given = condition.model_fields_set
    if "equals" in given:
        return _path_schema(path, {"const": condition.equals})
    if "not_equals" in given:
        return {"not": _path_schema(path, {"const": condition.not_equals})}
    if condition.in_ is not None:
        return _path_schema(path, _member(condition.in_))
    if condition.not_in is not None:
        return {"not": _path_schema(path, _member(condition.not_in))}
    present = _path_schema(path, _given())
    return present if condition.is_set else {"not": present}


def _member(choices: list[Any]) -> dict[str, Any]:
    """One of `choices`, or (a multi-enum's value) a list holding one of them."""
    return {"anyOf": [{"enum": choices}, {"type": "array", "contains": {"enum": choices}}]}


def _value_schema(field: FormField) -> dict[str, Any]:
    if field.type == "enum":
        schema: dict[str, Any] = {"enum": field.option_values()}
    elif field.type == "multi-enum":
        schema = {"type": "array", "items": {"enum": field.option_values()}, "uniqueItems": True}
        if field.min_length is not None:
            schema["minItems"] = field.min_length
        if field.max_length is not None:
            schema["maxItems"] = field.max_length
    else:
        schema = dict(_JSON_TYPES[field.type])
    for attr, key in (("min", "minimum"), ("max", "maximum")):
        if getattr(field, attr) is not None:
            schema[key] = getattr(field, attr)
    if field.type in ("string", "text", "secret", "email", "url"):
        if field.min_length is not None:
            schema["minLength"] = field.min_length
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
        if field.pattern:
            # the whole value, as fullmatch: `(?![\s\S])` is the end in every dialect
            # (`$` also matches before a final newline in Python's re).
            schema["pattern"] = f"^(?:{field.pattern})(?![\\s\\S])"
    if field.title:
        schema["title"] = field.title
    if field.help:
        schema["description"] = field.help
    if field.default is not None and field.type != "secret":
        schema["default"] = field.default
    return schema


def _when(conditions: list[Condition], then: dict[str, Any]) -> dict[str, Any]:
    if not conditions:
        return then
    condition = conditions[0] if len(conditions) == 1 else Condition(all=conditions)
    return {"if": condition_schema(condition), "then": then}


def _object_schema(
    fields: list[FormField],
    prefix: str,
    rules: list[dict[str, Any]],
    shown_if: list[Condition] | None = None,
) -> dict[str, Any]:
    """`shown_if`: the visibleIf conditions of the groups around these fields. A field is
    required only while it (and every group around it) is shown, and never when it has a
    default, which an empty value takes."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in fields:
        path = f"{prefix}{f.id}"
        shown = [*(shown_if or []), *([f.visible_if] if f.visible_if else [])]
        if f.type == "group":
            properties[f.id] = _object_schema(f.fields or [], f"{path}.", rules, shown)
            continue
        properties[f.id] = _value_schema(f)
        if f.default is not None:
            continue
        needs = _path_schema(path.split("."), _given())
        if f.required and not shown and not prefix:
            required.append(f.id)
            properties[f.id].update(_given())
        elif f.required:
            rules.append(_when(shown, needs))
        if f.required_if is not None:
            rules.append(_when([*shown, f.required_if], needs))
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def form_json_schema(form: Form, title: str | None = None) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    schema = _object_schema(form.fields, "", rules)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    if title:
        schema["title"] = title
    if rules:
        schema["allOf"] = rules
    return schema
