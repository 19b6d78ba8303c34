"""The slice of JQL the fake JIRA understands: clauses joined by AND, each
`field = value`, `field != value` or `field in (v1, v2)` over labels, project, key,
status and statusCategory, and an optional `ORDER BY created|key|id [ASC|DESC]`.
Anything else is refused the way JIRA refuses a query it cannot parse (a 400 whose
errorMessages start with "Error in the JQL Query").

Part of a demo fake (loom.demo.fakes), not for production."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<string>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')|(?P<op>!=|=|\(|\)|,)"
    r"|(?P<word>[^\s=!(),\"']+))"
)
FIELDS = ("labels", "project", "key", "status", "statuscategory")
ORDER_FIELDS = ("created", "key", "id")


class JqlError(ValueError):
    """The query cannot be run; the message is JIRA's errorMessages entry."""


@dataclass(frozen=True)
class Clause:
    field: str
    negated: bool
    values: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...]
    order_by: str = "id"
    descending: bool = False

    def matches(self, values: Mapping[str, Sequence[str]]) -> bool:
        """Whether an issue whose values by field are `values` matches (compared
        case-insensitively, as JIRA compares these fields)."""
        for clause in self.clauses:
            have = {value.lower() for value in values[clause.field]}
            hit = any(value.lower() in have for value in clause.values)
            if hit == clause.negated:
                return False
        return True


def parse(jql: str) -> Query:
    tokens = _tokens(jql)
    clauses: list[Clause] = []
    position = 0
    while position < len(tokens):
        kind, text = tokens[position]
        if kind == "word" and text.lower() == "order":
            return Query(tuple(clauses), *_order_by(tokens[position:]))
        if clauses:
            if not (kind == "word" and text.lower() == "and"):
                raise JqlError(f"Error in the JQL Query: Expecting 'AND' but got '{text}'.")
            position += 1
        clause, position = _clause(tokens, position)
        clauses.append(clause)
    return Query(tuple(clauses))


def _tokens(jql: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(jql.rstrip()):
        match = _TOKEN.match(jql, position)
        if match is None or match.end() == position:
            raise JqlError(
                f"Error in the JQL Query: The character '{jql[position]}' is a reserved "
                f"JQL character. (line 1, character {position + 1})"
            )
        kind = match.lastgroup or "word"
        text = match[kind]
        if kind == "string":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        tokens.append((kind, text))
        position = match.end()
    return tokens


def _clause(tokens: list[tuple[str, str]], position: int) -> tuple[Clause, int]:
    def take() -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise JqlError("Error in the JQL Query: Expecting a value but reached the end.")
        token = tokens[position]
        position += 1
        return token

    _, name = take()
    field = name.lower()
    if field not in FIELDS:
        raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
    kind, operator = take()
    negated = False
    if kind == "word" and operator.lower() == "not":
        negated, (kind, operator) = True, take()
        operator = "not " + operator
    if operator in ("=", "!="):
        _, value = take()
        return Clause(field, operator == "!=", (value,)), position
    if operator.lower() in ("in", "not in"):
        if take()[1] != "(":
            raise JqlError("Error in the JQL Query: Expecting '(' after IN.")
        values: list[str] = []
        while True:
            kind, value = take()
            if kind == "op" and value == ")" and not values:
                raise JqlError("Error in the JQL Query: Expecting a value inside IN ( ).")
            values.append(value)
            kind, separator = take()
            if separator == ")":
                return Clause(field, negated, tuple(values)), position
            if separator != ",":
                raise JqlError(
                    f"Error in the JQL Query: Expecting ',' or ')' but got '{separator}'."
                )
    raise JqlError(f"Error in the JQL Query: Expecting operator but got '{operator}'.")


def _order_by(tokens: list[tuple[str, str]]) -> tuple[str, bool]:
    words = [text.lower() for _, text in tokens]
    if len(words) < 3 or words[1] != "by" or words[2] not in ORDER_FIELDS or len(words) > 4:
        raise JqlError("Error in the JQL Query: the fake orders by created, key or id only.")
    direction = words[3] if len(words) == 4 else "asc"
    if direction not in ("asc", "desc"):
        raise JqlError(f"Error in the JQL Query: Expecting ASC or DESC but got '{direction}'.")
    return words[2], direction == "desc"


def sort_key(order_by: str) -> Callable[[Any], Any]:
    """How issues are ordered (`created` and `id` both follow creation)."""
    if order_by == "key":
        return lambda issue: (issue.project, int(issue.key.rsplit("-", 1)[1]))
    return lambda issue: int(issue.id)
