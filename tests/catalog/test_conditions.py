"""conditions: the one evaluator of visibleIf/requiredIf, and the shape every condition
node must have."""

from __future__ import annotations

from typing import Any

import pytest

from loom.catalog.conditions import evaluate, referenced_fields, shape_problems
from loom.catalog.documents import Condition


def holds(condition: dict[str, Any], values: dict[str, Any]) -> bool:
    return evaluate(Condition.model_validate(condition), values)


def shape(condition: dict[str, Any]) -> list[tuple[str, str]]:
    return list(shape_problems(Condition.model_validate(condition)))


def test_equals() -> None:
    assert holds({"field": "env", "equals": "prod"}, {"env": "prod"})
    assert not holds({"field": "env", "equals": "prod"}, {"env": "dev"})
    assert not holds({"field": "env", "equals": "prod"}, {})


def test_equals_compares_typed_values() -> None:
    assert holds({"field": "replicas", "equals": 3}, {"replicas": 3})
    assert not holds({"field": "replicas", "equals": 3}, {"replicas": "3"})
    assert holds({"field": "public", "equals": False}, {"public": False})
    assert not holds({"field": "public", "equals": False}, {})


def test_equals_null_holds_for_a_missing_value() -> None:
    assert holds({"field": "env", "equals": None}, {})
    assert not holds({"field": "env", "equals": None}, {"env": "dev"})


def test_not_equals() -> None:
    assert holds({"field": "env", "notEquals": "prod"}, {"env": "dev"})
    assert holds({"field": "env", "notEquals": "prod"}, {})
    assert not holds({"field": "env", "notEquals": "prod"}, {"env": "prod"})


def test_in() -> None:
    assert holds({"field": "size", "in": ["m", "l"]}, {"size": "l"})
    assert not holds({"field": "size", "in": ["m", "l"]}, {"size": "s"})
    assert not holds({"field": "size", "in": ["m", "l"]}, {})


def test_not_in() -> None:
    assert holds({"field": "size", "notIn": ["m", "l"]}, {"size": "s"})
    assert holds({"field": "size", "notIn": ["m", "l"]}, {})
    assert not holds({"field": "size", "notIn": ["m", "l"]}, {"size": "m"})


def test_in_with_a_multi_enum_value_holds_when_any_choice_is_listed() -> None:
    assert holds({"field": "features", "in": ["backup"]}, {"features": ["ha", "backup"]})
    assert not holds({"field": "features", "in": ["backup"]}, {"features": ["ha"]})
    assert not holds({"field": "features", "in": ["backup"]}, {"features": []})


def test_not_in_with_a_multi_enum_value_holds_when_no_choice_is_listed() -> None:
    assert holds({"field": "features", "notIn": ["backup"]}, {"features": ["ha"]})
    assert holds({"field": "features", "notIn": ["backup"]}, {"features": []})
    assert not holds({"field": "features", "notIn": ["backup"]}, {"features": ["ha", "backup"]})


@pytest.mark.parametrize("value", ["x", 0, False, ["a"], {"k": 1}])
def test_is_set_true_for_any_given_value(value: object) -> None:
    assert holds({"field": "f", "isSet": True}, {"f": value})
    assert not holds({"field": "f", "isSet": False}, {"f": value})


@pytest.mark.parametrize("values", [{}, {"f": None}, {"f": ""}, {"f": []}])
def test_is_set_false_for_missing_or_empty_values(values: dict[str, Any]) -> None:
    assert not holds({"field": "f", "isSet": True}, values)
    assert holds({"field": "f", "isSet": False}, values)


def test_dotted_paths_read_into_groups() -> None:
    values = {"db": {"engine": "pg", "ha": {"replicas": 2}}}
    assert holds({"field": "db.engine", "equals": "pg"}, values)
    assert holds({"field": "db.ha.replicas", "in": [2, 3]}, values)
    assert not holds({"field": "db.ha.zone", "isSet": True}, values)
    assert not holds({"field": "db.engine.name", "isSet": True}, values)  # through a scalar


def test_all_any_not() -> None:
    prod = {"field": "env", "equals": "prod"}
    big = {"field": "size", "in": ["l", "xl"]}
    both = {"all": [prod, big]}
    either = {"any": [prod, big]}
    assert holds(both, {"env": "prod", "size": "l"})
    assert not holds(both, {"env": "prod", "size": "s"})
    assert holds(either, {"env": "dev", "size": "xl"})
    assert not holds(either, {"env": "dev", "size": "s"})
    assert holds({"not": prod}, {"env": "dev"})
    assert not holds({"not": prod}, {"env": "prod"})


def test_combinators_nest() -> None:
    condition = {
        "any": [
            {"all": [{"field": "env", "equals": "prod"}, {"not": {"field": "ha", "isSet": True}}]},
            {"field": "size", "equals": "xl"},
        ]
    }
    assert holds(condition, {"env": "prod"})
    assert not holds(condition, {"env": "prod", "ha": True})
    assert holds(condition, {"env": "prod", "ha": True, "size": "xl"})


def test_empty_combinators() -> None:
    assert holds({"all": []}, {})
    assert not holds({"any": []}, {})


# -- shape ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "a", "equals": None},
        {"field": "a", "notEquals": 1},
        {"field": "a", "in": [1]},
        {"field": "a", "notIn": [1]},
        {"field": "a", "isSet": False},
        {"all": [{"field": "a", "isSet": True}]},
        {"not": {"any": [{"field": "a", "isSet": True}]}},
    ],
)
def test_well_formed_conditions_have_no_shape_problems(condition: dict[str, Any]) -> None:
    assert shape(condition) == []


def test_two_operators_are_a_shape_problem() -> None:
    assert shape({"field": "a", "equals": 1, "in": [1, 2]}) == [
        ("", "give exactly one of equals, notEquals, in, notIn, isSet")
    ]


def test_a_comparison_without_operator_is_a_shape_problem() -> None:
    assert shape({"field": "a"}) == [
        ("", "give exactly one of equals, notEquals, in, notIn, isSet")
    ]


def test_a_comparison_without_field_is_a_shape_problem() -> None:
    assert shape({"equals": 1}) == [("", "a comparison needs 'field'")]
    assert shape({}) == [
        ("", "a comparison needs 'field'"),
        ("", "give exactly one of equals, notEquals, in, notIn, isSet"),
    ]


def test_a_combinator_with_a_field_is_a_shape_problem() -> None:
    message = "combine with all/any/not, or compare a field, not both"
    assert shape({"all": [], "field": "a"}) == [("", message)]
    assert shape({"not": {"field": "a", "isSet": True}, "equals": 1}) == [("", message)]


def test_two_combinators_are_a_shape_problem() -> None:
    assert shape({"all": [], "any": []}) == [("", "use only one of all, any, not")]


def test_shape_problems_of_nested_conditions_have_their_path() -> None:
    condition = {
        "all": [
            {"field": "a", "isSet": True},
            {"any": [{"field": "b"}, {"not": {"equals": 1}}]},
        ]
    }
    assert shape(condition) == [
        (".all[1].any[0]", "give exactly one of equals, notEquals, in, notIn, isSet"),
        (".all[1].any[1].not", "a comparison needs 'field'"),
    ]


def test_referenced_fields_walks_every_node() -> None:
    condition = Condition.model_validate(
        {
            "all": [
                {"field": "a", "isSet": True},
                {"any": [{"field": "b.c", "equals": 1}, {"not": {"field": "d", "in": [1]}}]},
            ]
        }
    )
    assert list(referenced_fields(condition)) == ["a", "b.c", "d"]
