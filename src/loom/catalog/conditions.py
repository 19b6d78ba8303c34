"""The one evaluator of `visibleIf` / `requiredIf` conditions. The portal mirrors it in
JavaScript for instant feedback, but the server's answer is the one that counts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from loom.catalog.documents import Condition
from loom.catalog.forms import get_path, is_set


def evaluate(condition: Condition, values: Mapping[str, Any]) -> bool:
    if condition.all is not None:
        return all(evaluate(c, values) for c in condition.all)
    if condition.any is not None:
        return any(evaluate(c, values) for c in condition.any)
    if condition.not_ is not None:
        return not evaluate(condition.not_, values)
    value = get_path(values, condition.field or "")
    fields_set = condition.model_fields_set
    if "equals" in fields_set:
        return bool(value == condition.equals)
    if "not_equals" in fields_set:
        return bool(value != condition.not_equals)
    if condition.in_ is not None:
        return _member(value, condition.in_)
    if condition.not_in is not None:
        return not _member(value, condition.not_in)
    if condition.is_set is not None:
        return is_set(value) is condition.is_set
    return True


def _member(value: Any, choices: list[Any]) -> bool:
    if isinstance(value, list):  # multi-enum: any chosen option counts
        return any(v in choices for v in value)
    return value in choices


def shape_problems(condition: Condition) -> Iterator[tuple[str, str]]:
    """(relative path, issue) for malformed conditions: each node takes exactly one form."""
    combinators = [k for k in ("all", "any", "not_") if getattr(condition, k) is not None]
    comparisons = [
        k
        for k in ("equals", "not_equals", "in_", "not_in", "is_set")
        if k in condition.model_fields_set
    ]
    if combinators and (comparisons or condition.field is not None):
        yield "", "combine with all/any/not, or compare a field, not both"
    elif len(combinators) > 1:
        yield "", "use only one of all, any, not"
    elif not combinators:
        if condition.field is None:
            yield "", "a comparison needs 'field'"
        if len(comparisons) != 1:
            yield "", "give exactly one of equals, notEquals, in, notIn, isSet"
    for name in ("all", "any"):
        for i, child in enumerate(getattr(condition, name) or []):
            for path, issue in shape_problems(child):
                yield f".{name}[{i}]{path}", issue
    if condition.not_ is not None:
        for path, issue in shape_problems(condition.not_):
            yield f".not{path}", issue


def referenced_fields(condition: Condition) -> Iterator[str]:
    if condition.field is not None:
        yield condition.field
    for child in [*(condition.all or []), *(condition.any or [])]:
        yield from referenced_fields(child)
    if condition.not_ is not None:
        yield from referenced_fields(condition.not_)
