"""Paths into an HTTP response, as `outputMap` values write them:

    response.status                 the status code (an int)
    response.headers.location       a header, by case-insensitive name
    response.body                   the whole body (parsed JSON, else text)
    response.body.id                a key of a JSON object
    response.body.items[0].name     list items by index ([-1]: the last)

Keys are separated by dots, so a key that itself contains a dot or brackets cannot be
addressed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_PART = re.compile(r"^([^.\[\]]+)((?:\[-?\d+\])*)$")
_INDEX = re.compile(r"\[(-?\d+)\]")

Step = str | int


class PathMissing(LookupError):
    """The response has nothing at this path; the message names the path and where the
    walk stopped."""


def parse(path: str) -> tuple[Step, ...]:
    """The steps of `path` after `response`; ValueError naming the problem if malformed."""
    parts = path.split(".")
    if parts[0] != "response" or len(parts) < 2:
        raise ValueError(f"{path!r} must start with response.status, .headers or .body")
    steps: list[Step] = []
    for part in parts[1:]:
        match = _PART.match(part)
        if match is None:
            raise ValueError(f"{path!r}: {part!r} is not a key with optional [index]es")
        steps.append(match.group(1))
        steps.extend(int(index) for index in _INDEX.findall(match.group(2)))
    head, rest = steps[0], steps[1:]
    if head not in ("status", "headers", "body"):
        raise ValueError(f"{path!r} must start with response.status, .headers or .body")
    if head == "status" and rest:
        raise ValueError(f"{path!r}: response.status has nothing under it")
    if head == "headers" and (len(rest) != 1 or not isinstance(rest[0], str)):
        raise ValueError(f"{path!r}: name one header, as in response.headers.location")
    return tuple(steps)


@dataclass(frozen=True)
class ResponseView:
    """What paths are read from."""

    status: int
    headers: Mapping[str, str]
    body: Any


def lookup(path: str, response: ResponseView) -> Any:
    """The value at `path`; PathMissing if there is none (ValueError if malformed)."""
    steps = parse(path)
    head = steps[0]
    if head == "status":
        return response.status
    if head == "headers":
        wanted = str(steps[1]).lower()
        for name, value in response.headers.items():
            if name.lower() == wanted:
                return value
        raise PathMissing(f"{path}: the response has no {steps[1]} header")
    value = response.body
    walked = "response.body"
    for step in steps[1:]:
        value = _step(value, step, walked, path)
        walked += f"[{step}]" if isinstance(step, int) else f".{step}"
    return value


def _step(value: Any, step: Step, walked: str, path: str) -> Any:
    if isinstance(step, int):
        if not isinstance(value, list):
            raise PathMissing(f"{path}: {walked} is {_kind(value)}, not a list")
        if not -len(value) <= step < len(value):
            raise PathMissing(f"{path}: {walked} has {len(value)} items, no [{step}]")
        return value[step]
    if not isinstance(value, dict):
        raise PathMissing(f"{path}: {walked} is {_kind(value)}, not an object")
    if step not in value:
        raise PathMissing(f"{path}: {walked} has no key {step!r}")
    return value[step]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    kinds = {str: "text", bool: "a boolean", int: "a number", float: "a number", list: "a list"}
    return kinds.get(type(value), "an object" if isinstance(value, dict) else "a value")
