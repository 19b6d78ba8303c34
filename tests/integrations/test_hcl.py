"""hcl: values written as HCL expressions read back as the same values by Terraform's
rules (the fake's reader), with template sequences and control characters escaped."""

from __future__ import annotations

import math
from typing import Any

import pytest

from loom.demo.fakes.hcl import decode_hcl
from loom.integrations.hcl import encode


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("db-1", '"db-1"'),
        (3, "3"),
        (-2.5, "-2.5"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (["a", 1], '["a", 1]'),
        ({"env": "prod", "n": 2}, '{ "env" = "prod", "n" = 2 }'),
        ({}, "{}"),
        ([], "[]"),
    ],
)
def test_each_kind_of_value(value: Any, written: str) -> None:
    assert encode(value) == written
    assert decode_hcl(written) == value


def test_strings_are_quoted_not_left_bare() -> None:
    # A bare `db-1` would be read as an expression (a reference), not text.
    assert encode("true") == '"true"'
    assert decode_hcl(encode("3")) == "3"


def test_template_sequences_reach_terraform_literally() -> None:
    text = "${var.secret} and %{ if x } and $$ and 100% and $${ already"
    written = encode(text)
    assert "$${var.secret}" in written and "%%{ if x }" in written
    assert decode_hcl(written) == text


@pytest.mark.parametrize(
    "text", ['say "hi"', "back\\slash", "two\nlines\ttab\r", "bell\x07 and \x7f", "ünïcødé ✓"]
)
def test_escapes_round_trip(text: str) -> None:
    written = encode(text)
    assert "\n" not in written  # a quoted HCL string cannot span lines
    assert decode_hcl(written) == text


def test_nested_values_round_trip() -> None:
    value = {
        "tags": {"cost-center": "cc-1", "note": "${not a ref}"},
        "cidrs": ["10.0.0.0/8", "192.168.0.0/16"],
        "sizes": [{"gb": 20, "ssd": True}],
        "empty": None,
    }
    assert decode_hcl(encode(value)) == value


@pytest.mark.parametrize("value", [math.nan, math.inf, {1, 2}, object()])
def test_values_without_an_hcl_form_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="no HCL form"):
        encode(value)


def test_the_reader_refuses_what_terraform_would_interpolate() -> None:
    with pytest.raises(ValueError, match="template sequence"):
        decode_hcl('"${var.x}"')
    with pytest.raises(ValueError, match="not an HCL literal"):
        decode_hcl("db-1")
