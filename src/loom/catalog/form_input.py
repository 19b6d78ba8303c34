"""`validate_input`: the one check of what a person typed into an item's form.

It applies types (with the lenient coercions an HTML form needs: "42" → 42), defaults,
visibleIf/requiredIf, patterns, ranges, lengths and option membership, and returns every
problem with its field path. Values of hidden fields are dropped, not stored; values of
`secret` fields are split out so the caller can keep them apart from the request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import regex

from loom.catalog.conditions import evaluate
from loom.catalog.documents import CatalogBundle, CatalogItem, Form, FormField
from loom.catalog.forms import is_set, set_path, walk
from loom.errors import FieldIssue

#: User-supplied patterns run against user input: bound each match (no ReDoS).
PATTERN_TIMEOUT_SECONDS = 0.05
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.I)
_TRUE = {"true", "on", "yes", "1"}
_FALSE = {"false", "off", "no", "0"}
MISSING: Any = object()


@dataclass
class ValidatedInput:
    values: dict[str, Any] = field(default_factory=dict)
    #: Secret values by field path: never stored with the request, logged or echoed
    #: (so not in the repr either).
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    errors: list[FieldIssue] = field(default_factory=list)
    #: Paths of the fields shown, and of those required, for these values (the answer
    #: the portal renders; its script only mirrors it).
    visible: set[str] = field(default_factory=set)
    required: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Invalid(Exception):
    def __init__(self, issue: str) -> None:
        self.issue = issue


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    # Cached here: regex's own cache lookup costs more than a catalog load can spare.
    return regex.compile(pattern)


def _string(raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Invalid("must be text")
    return raw


def _coerce(field: FormField, raw: Any) -> Any:
    """The typed value of one (non-group) field, or _Invalid with the reason."""
    kind = field.type
    if kind == "integer":
        if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
            try:
                raw = int(raw)
            except ValueError:  # more digits than Python converts (sys.int_max_str_digits)
                raise _Invalid("must be a whole number") from None
        if isinstance(raw, bool) or not isinstance(raw, int):
            if isinstance(raw, float) and raw.is_integer():
                return int(raw)
            raise _Invalid("must be a whole number")
        return raw
    if kind == "number":
        if isinstance(raw, str):
            try:
                raw = float(raw)
            except ValueError:
                raise _Invalid("must be a number") from None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise _Invalid("must be a number")
        if isinstance(raw, float) and not math.isfinite(raw):  # "nan", "inf": not JSON
            raise _Invalid("must be a number")
        return raw
    if kind == "boolean":
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        if not isinstance(raw, bool):
            raise _Invalid("must be true or false")
        return raw
    if kind == "enum":
        choices = field.option_values()
        match = _option(choices, raw)
        if match is MISSING:
            raise _Invalid(f"must be one of {', '.join(str(c) for c in choices)}")
        return match
    if kind == "multi-enum":
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list):
            raise _Invalid("must be a list of options")
        choices = field.option_values()
        chosen = [_option(choices, v) for v in items]
        unknown = [str(v) for v, c in zip(items, chosen, strict=True) if c is MISSING]
        if unknown:
            raise _Invalid(f"has unknown option(s) {', '.join(unknown)}")
        if len({str(c) for c in chosen}) != len(chosen):
            raise _Invalid("lists an option more than once")
        return chosen
    if kind == "date" and isinstance(raw, date) and not isinstance(raw, datetime):
        return raw.isoformat()  # an unquoted YAML default (`default: 2024-01-31`)
    text = _string(raw)
    if kind == "email" and not _EMAIL.match(text):
        raise _Invalid("must be an email address")
    if kind == "url" and not _URL.match(text):
        raise _Invalid("must be an http(s) URL")
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise _Invalid("must be a date (YYYY-MM-DD)") from None
    return text


def _option(choices: list[Any], raw: Any) -> Any:
    """The option `raw` stands for (the option itself, or its text from an HTML form), or
    MISSING. True is not the option 1, nor 0 the option False."""
    for choice in choices:
        if raw == choice and isinstance(raw, bool) == isinstance(choice, bool):
            return choice
    return next((c for c in choices if str(c) == str(raw)), MISSING)


def _constraints(field: FormField, value: Any) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if field.min is not None and value < field.min:
            raise _Invalid(f"must be at least {_num(field.min)}")
        if field.max is not None and value > field.max:
            raise _Invalid(f"must be at most {_num(field.max)}")
    if isinstance(value, str | list):
        unit = "option(s)" if isinstance(value, list) else "character(s)"
        if field.min_length is not None and len(value) < field.min_length:
            raise _Invalid(f"must have at least {field.min_length} {unit}")
        if field.max_length is not None and len(value) > field.max_length:
            raise _Invalid(f"must have at most {field.max_length} {unit}")
    if field.pattern and isinstance(value, str):
        try:
            matched = compile_pattern(field.pattern).fullmatch(
                value, timeout=PATTERN_TIMEOUT_SECONDS
            )
        except TimeoutError:
            raise _Invalid("could not be checked against the pattern in time") from None
        if matched is None:
            raise _Invalid(f"must match the pattern {field.pattern}")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def check_value(field: FormField, raw: Any) -> tuple[Any, str | None]:
    """(typed value, None) or (None, issue) for one field's value: also used by the
    catalog rules to check that defaults are valid values."""
    try:
        value = _coerce(field, raw)
        _constraints(field, value)
    except _Invalid as exc:
        return None, exc.issue
    return value, None


def _collect(
    fields: list[FormField], data: Any, prefix: str, out: dict[str, Any], errors: dict[str, str]
) -> None:
    """Typed values (defaults applied) of every field present, keyed by path."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        errors[prefix.rstrip(".") or "input"] = "must be an object of field values"
        return
    known = {f.id for f in fields}
    for key in data:
        if key not in known:
            errors[f"{prefix}{key}"] = "unknown field"
    for f in fields:
        path = f"{prefix}{f.id}"
        raw = data.get(f.id, MISSING)
        if f.type == "group":
            _collect(f.fields or [], None if raw is MISSING else raw, f"{path}.", out, errors)
            continue
        if raw is MISSING or raw is None or raw == "" or raw == []:
            if f.default is None:
                continue
            raw = f.default
        value, issue = check_value(f, raw)
        if issue is not None:
            errors[path] = issue
        else:
            out[path] = value


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        set_path(nested, path, value)
    return nested


def _visible(form: Form, flat: dict[str, Any]) -> set[str]:
    """Paths of visible fields. Hidden fields' values are ignored by conditions too, so
    iterate until the set is stable (a chain of conditions settles in a few rounds)."""
    paths = [p for p, _ in walk(form.fields)]
    visible = set(paths)
    for _ in range(len(paths) + 1):
        values = _nest({p: v for p, v in flat.items() if p in visible})
        new: set[str] = set()
        for path, f in walk(form.fields):
            parent = path.rpartition(".")[0]
            if parent and parent not in new:
                continue
            if f.visible_if is None or evaluate(f.visible_if, values):
                new.add(path)
        if new == visible:
            break
        visible = new
    return visible


def validate_form(form: Form, data: Any) -> ValidatedInput:
    flat: dict[str, Any] = {}
    type_errors: dict[str, str] = {}
    _collect(form.fields, data, "", flat, type_errors)
    visible = _visible(form, flat)
    kept = {p: v for p, v in flat.items() if p in visible}
    values = _nest(kept)
    result = ValidatedInput(visible=visible)
    for path, issue in type_errors.items():
        if path in visible or path not in dict(walk(form.fields)):
            result.errors.append(FieldIssue(path, issue))
    for path, f in walk(form.fields):
        if path not in visible or f.type == "group":
            continue
        if f.required or (f.required_if is not None and evaluate(f.required_if, values)):
            result.required.add(path)
            if path not in type_errors and not is_set(kept.get(path)):
                result.errors.append(FieldIssue(path, "is required"))
    secret_paths = {p for p, f in walk(form.fields) if f.type == "secret"}
    result.secrets = {p: v for p, v in kept.items() if p in secret_paths}
    result.values = _nest({p: v for p, v in kept.items() if p not in secret_paths})
    return result


def validate_input(document: CatalogItem | CatalogBundle, data: Any) -> ValidatedInput:
    """Validate request input against an item's (or bundle's) form."""
    return validate_form(document.spec.form, data)
