"""response_paths: outputMap paths parse strictly and read status, headers and JSON
bodies, naming where a walk stopped when there is nothing at the path."""

from __future__ import annotations

from typing import Any

import pytest

from loom.actions.response_paths import PathMissing, ResponseView, lookup, parse

RESPONSE = ResponseView(
    status=201,
    headers={"Location": "/things/7", "X-Request-Id": "r-1"},
    body={
        "id": 7,
        "items": [{"name": "a", "tags": ["x", "y"]}, {"name": "b", "tags": []}],
        "meta": {"next": None, "ok": True, "my-key": "dash", "$ref": "d"},
    },
)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("response.status", 201),
        ("response.headers.location", "/things/7"),
        ("response.headers.X-REQUEST-ID", "r-1"),
        ("response.body.id", 7),
        ("response.body.items[0].name", "a"),
        ("response.body.items[-1].name", "b"),
        ("response.body.items[0].tags[1]", "y"),
        ("response.body.items[1].tags", []),
        ("response.body.meta.next", None),
        ("response.body.meta.my-key", "dash"),
        ("response.body.meta.$ref", "d"),
    ],
)
def test_values_are_found(path: str, value: Any) -> None:
    assert lookup(path, RESPONSE) == value


def test_a_list_body_and_a_text_body() -> None:
    assert lookup("response.body[1]", ResponseView(200, {}, [1, 2])) == 2
    assert lookup("response.body", ResponseView(200, {}, "plain")) == "plain"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("response.body.uid", "response.body has no key 'uid'"),
        ("response.body.items[2].name", "response.body.items has 2 items, no [2]"),
        ("response.body.items[-3]", "response.body.items has 2 items, no [-3]"),
        ("response.body.items.name", "response.body.items is a list, not an object"),
        ("response.body.id[0]", "response.body.id is a number, not a list"),
        ("response.body.meta.next.x", "response.body.meta.next is null, not an object"),
        ("response.body.meta.ok.x", "response.body.meta.ok is a boolean, not an object"),
        ("response.body.items[0].name.first", "response.body.items[0].name is text, not an object"),
        ("response.headers.etag", "the response has no etag header"),
    ],
)
def test_a_missing_value_says_where_the_walk_stopped(path: str, message: str) -> None:
    with pytest.raises(PathMissing) as caught:
        lookup(path, RESPONSE)
    assert str(caught.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("body.id", "must start with response.status, .headers or .body"),
        ("response", "must start with response.status, .headers or .body"),
        ("response.data.id", "must start with response.status, .headers or .body"),
        ("response.body..id", "'' is not a key with optional [index]es"),
        ("response.body.items[x]", "'items[x]' is not a key with optional [index]es"),
        ("response.body.items[0", "'items[0' is not a key with optional [index]es"),
        ("response.status.code", "response.status has nothing under it"),
        ("response.headers", "name one header, as in response.headers.location"),
        ("response.headers.a.b", "name one header, as in response.headers.location"),
        ("response.headers[0]", "name one header, as in response.headers.location"),
    ],
)
def test_malformed_paths_are_refused(path: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse(path)
    assert str(caught.value) == f"{path!r}: {problem}" or str(caught.value) == f"{path!r} {problem}"
