"""pipes: the twelve pipe functions, how values become text, and the size guard every
growing pipe applies before it builds its result."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
import yaml
from jinja2 import Undefined

from loom.provisioning.templating import pipes
from loom.provisioning.templating.pipes import (
    PIPES,
    PipeError,
    as_text,
    b64encode,
    date_,
    default,
    estimate_size,
    join,
    json_,
    lower,
    replace,
    slug,
    to_plain,
    trim,
    truncate,
    upper,
    yaml_,
)


@pytest.fixture
def small_limit() -> Iterator[int]:
    token = pipes.OUTPUT_LIMIT.set(20)
    try:
        yield 20
    finally:
        pipes.OUTPUT_LIMIT.reset(token)


def test_exactly_the_documented_pipes_exist() -> None:
    assert set(PIPES) == {
        "default", "upper", "lower", "slug", "trim", "truncate",
        "replace", "json", "yaml", "join", "b64encode", "date",
    }  # fmt: skip
    for name, fn in PIPES.items():
        assert fn.__doc__ and fn.__doc__.startswith(f"`{name}"), name  # documented usage first


# -- values as text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("as is", "as is"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        (3, "3"),
        (2.5, "2.5"),
        (date(2030, 1, 15), "2030-01-15"),
        (datetime(2030, 1, 15, 9, 30, tzinfo=UTC), "2030-01-15T09:30:00+00:00"),
        (time(9, 30), "09:30:00"),
        (["a", 1, True, None], '["a", 1, true, null]'),
        ({"k": "v", "n": {"x": 1}}, '{"k": "v", "n": {"x": 1}}'),
        (("t",), '["t"]'),
        ({"naïve": "ü"}, '{"naïve": "ü"}'),
        (Undefined(name="x"), ""),
    ],
)
def test_as_text(value: Any, text: str) -> None:
    assert as_text(value) == text


def test_to_plain_makes_json_data() -> None:
    value = {1: (date(2030, 1, 1), {"s"}), "u": Undefined(), "o": object}
    assert to_plain(value) == {"1": ["2030-01-01", ["s"]], "u": None, "o": str(object)}


def test_to_plain_refuses_absurd_nesting() -> None:
    value: Any = []
    for _ in range(200):
        value = [value]
    with pytest.raises(PipeError, match="nested more than"):
        to_plain(value)


def test_estimate_size_stops_counting_past_the_limit() -> None:
    assert estimate_size("abc", 100) == 5
    assert 10 < estimate_size({"k": ["abc", 1, None]}, 100) < 40
    huge = ["x" * 1000] * 1_000_000  # a million references to one string: never walked
    assert estimate_size(huge, 100) == 1_000_002
    assert estimate_size(2**4000, 10_000) > 1000


# -- each pipe ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Undefined(), "fb"), (None, "fb"), ("", "fb"), (0, 0), (False, False), ("x", "x"), ([], [])],
)
def test_default_replaces_only_missing_null_and_empty_text(value: Any, expected: Any) -> None:
    assert default(value, "fb") == expected


def test_default_without_fallback_gives_empty_text() -> None:
    assert default(None) == ""


def test_upper_and_lower() -> None:
    assert upper("Straße") == "STRASSE"
    assert lower("ÀB") == "àb"
    assert upper(True) == "TRUE"
    assert lower(["A"]) == '["a"]'
    assert upper(None) == ""


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("Crème Brûlée!", (), "creme-brulee"),
        ("  --Orders__API  v2--", (), "orders-api-v2"),
        ("日本", (), ""),
        ("", (), ""),
        (42, (), "42"),
        ("abc def", (4,), "abc"),  # cut, and no hyphen left at the end
        ("x" * 100, (), "x" * 63),
    ],
)
def test_slug(value: Any, args: tuple[Any, ...], expected: str) -> None:
    assert slug(value, *args) == expected


@pytest.mark.parametrize("bad", [0, -1, "5", True, 1.5])
def test_slug_max_length_must_be_positive_whole_number(bad: Any) -> None:
    with pytest.raises(PipeError, match="max_length"):
        slug("abc", bad)


def test_trim() -> None:
    assert trim("  \t spaced \n") == "spaced"
    assert trim("/path/", "/") == "path"
    assert trim(None) == ""
    with pytest.raises(PipeError, match="'chars' must be text"):
        trim("x", ["/"])


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("short", (10,), "short"),
        ("exact", (5,), "exact"),
        ("longer text", (6,), "longer"),
        ("longer text", (6, "…"), "longe…"),
        ("longer text", (2, "...."), ".."),  # the end alone, cut to the length
        ("abc", (0,), ""),
        (None, (3,), ""),
    ],
)
def test_truncate(value: Any, args: tuple[Any, ...], expected: str) -> None:
    assert truncate(value, *args) == expected
    assert len(truncate(value, *args)) <= args[0]


@pytest.mark.parametrize("bad", [-1, "3", None, 2.0])
def test_truncate_length_must_be_a_whole_number(bad: Any) -> None:
    with pytest.raises(PipeError, match="'length'"):
        truncate("abc", bad)


def test_replace() -> None:
    assert replace("a-b-c", "-", "_") == "a_b_c"
    assert replace("a-b-c", "-", "_", 1) == "a_b-c"
    assert replace("a-b-c", "-", "_", 0) == "a-b-c"
    assert replace("ab", "", ".") == ".a.b."
    assert replace(12, 2, 3) == "13"  # scalars are text
    with pytest.raises(PipeError, match="'count'"):
        replace("a", "a", "b", -2)
    with pytest.raises(PipeError, match="'new' must be text"):
        replace("a", "a", {"x": 1})


def test_replace_refuses_to_grow_past_the_limit(small_limit: int) -> None:
    assert replace("aaaa", "a", "bbbbb") == "b" * 20  # exactly the limit
    with pytest.raises(PipeError, match="longer than 20"):
        replace("aaaa", "a", "bbbbbb")
    with pytest.raises(PipeError, match="longer than 20"):
        replace("a" * 20, "", "x")


def test_json_escapes_text_and_keeps_structure() -> None:
    assert json_('say "hi"\nthen\tgo \\ ü ✓') == '"say \\"hi\\"\\nthen\\tgo \\\\ ü ✓"'
    assert json_({"a": [1, True, None], "d": date(2030, 1, 1)}) == (
        '{"a": [1, true, null], "d": "2030-01-01"}'
    )
    assert json_(Undefined()) == "null"
    assert json_(3) == "3"
    assert json_({"a": 1}, 2) == '{\n  "a": 1\n}'
    with pytest.raises(PipeError, match="'indent' must be between 0 and 8"):
        json_({}, 9)


def test_json_refuses_values_past_the_limit(small_limit: int) -> None:
    with pytest.raises(PipeError, match="longer than 20"):
        json_(["x" * 10] * 5)


def test_yaml() -> None:
    assert yaml_({"name": "db", "tags": ["a", "b"], "n": None}) == (
        "name: db\ntags:\n- a\n- b\nn: null"
    )
    assert yaml_("plain") == "plain"
    assert yaml_(5) == "5"
    assert yaml_("ünï: 'quoted'") == "'ünï: ''quoted'''"
    assert yaml.safe_load(yaml_({"x": "multi\nline"})) == {"x": "multi\nline"}


def test_join() -> None:
    assert join(["a", "b", "c"]) == "a, b, c"
    assert join(["a", "b"], "|") == "a|b"
    assert join([1, True, None, {"k": 1}], ";") == '1;true;;{"k": 1}'
    assert join("text stays") == "text stays"
    assert join([]) == ""
    assert join(None) == ""
    with pytest.raises(PipeError, match="join needs a list"):
        join({"a": 1})
    with pytest.raises(PipeError, match="join needs a list"):
        join(5)


def test_join_stops_at_the_limit(small_limit: int) -> None:
    with pytest.raises(PipeError, match="longer than 20"):
        join(["abcdef"] * 1_000_000)


def test_b64encode() -> None:
    assert b64encode("hello") == "aGVsbG8="
    assert b64encode("é") == "w6k="
    assert b64encode("") == ""
    assert b64encode({"a": 1}) == "eyJhIjogMX0="


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        (date(2030, 1, 15), (), "2030-01-15"),
        (datetime(2030, 1, 15, 9, 5), ("%d/%m/%Y %H:%M",), "15/01/2030 09:05"),
        ("2030-01-15", ("%d %b %Y",), "15 Jan 2030"),
        ("2030-01-15T09:05:00Z", ("%H:%M",), "09:05"),
        ("2030-01-15T09:05:00+02:00", ("iso",), "2030-01-15T09:05:00+02:00"),
        (0, ("iso",), "1970-01-01T00:00:00+00:00"),
        (1_900_000_000.5, (), "2030-03-17"),
        ("2030-01-15", ("%-d.%-m. %%",), "15.1. %"),
        (None, (), ""),
    ],
)
def test_date(value: Any, args: tuple[Any, ...], expected: str) -> None:
    assert date_(value, *args) == expected


@pytest.mark.parametrize("bad", ["tomorrow", "2030-13-01", True, [2030], 10**20])
def test_date_refuses_what_is_not_a_date_without_echoing_it(bad: Any) -> None:
    with pytest.raises(PipeError) as caught:
        date_(bad)
    assert str(bad) not in str(caught.value)


@pytest.mark.parametrize("bad", ["%999999999Y", "%10d", "%Y %", "%.3f"])
def test_date_formats_are_plain_directives(bad: str) -> None:
    with pytest.raises(PipeError, match="'format'"):
        date_("2030-01-15", bad)
