"""Evaluating scorecard rules over a service's facts (`facts.py`): pure functions.

A rule applies to a service when its `appliesTo` filters all match. A service achieves
bronze when every applicable bronze rule passes, silver when bronze and silver ones do,
gold when all do (a level without applicable rules is met). Its score is the percentage
of applicable rules it passes (100 when none applies: nothing to fix).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loom.catalog.conditions import evaluate
from loom.services.facts import Facts
from loom.services.scorecard_rules import LEVELS, Check, Level, ScorecardRuleDocument


@dataclass(frozen=True)
class RuleResult:
    id: str
    title: str
    level: Level
    passed: bool
    message: str
    #: Why it failed ("" when it passed).
    detail: str


@dataclass(frozen=True)
class Scorecard:
    level: Level | None
    score: float
    rules: list[RuleResult]

    @property
    def failing(self) -> list[RuleResult]:
        return [r for r in self.rules if not r.passed]


def meets(achieved: Level | None, required: Level) -> bool:
    return achieved is not None and LEVELS.index(achieved) >= LEVELS.index(required)


def applies(rule: ScorecardRuleDocument, facts: Facts) -> bool:
    where = rule.spec.applies_to
    tags = set(facts.get("tags") or [])
    return (
        (where.tier is None or facts.get("tier") in where.tier)
        and (where.lifecycle is None or facts.get("lifecycle") in where.lifecycle)
        and (where.system is None or facts.get("system") in where.system)
        and (where.tags is None or bool(tags & set(where.tags)))
    )


def scorecard(rules: Sequence[ScorecardRuleDocument], facts: Facts) -> Scorecard:
    results = []
    for rule in rules:
        if not applies(rule, facts):
            continue
        passed, detail = check(rule.spec.check, facts)
        results.append(
            RuleResult(rule.metadata.id, rule.metadata.title, rule.spec.level, passed,
                       rule.spec.message, "" if passed else detail)
        )  # fmt: skip
    achieved: Level | None = None
    for level in LEVELS:
        if any(not r.passed for r in results if r.level == level):
            break
        achieved = level
    passed_count = sum(r.passed for r in results)
    score = round(100 * passed_count / len(results), 1) if results else 100.0
    return Scorecard(achieved, score, results)


def check(node: Check, facts: Facts) -> tuple[bool, str]:
    """(passed, why not) of one check node."""
    if node.all is not None:
        outcomes = [check(c, facts) for c in node.all]
        return all(ok for ok, _ in outcomes), "; ".join(d for ok, d in outcomes if not ok)
    if node.any is not None:
        outcomes = [check(c, facts) for c in node.any]
        return any(ok for ok, _ in outcomes), " or ".join(d for _, d in outcomes)
    if node.not_ is not None:
        ok, _ = check(node.not_, facts)
        return not ok, "the opposite check passes"
    for name, flag in _FLAGS.items():
        if getattr(node, name) is not None:
            return flag(facts)
    if node.has_link is not None:
        return _has_link(facts, node.has_link.kind, node.has_link.title)
    if node.min_owners is not None:
        count = int(facts.get("operators") or 0)
        return count >= node.min_owners, (
            f"{count} operator(s) in team {facts.get('owner')}, needs {node.min_owners}"
        )
    value = _get(facts, node.field or "")
    return evaluate(node, facts), f"{node.field} is {value!r}"


def _get(facts: Mapping[str, Any], path: str) -> Any:
    node: Any = facts
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _set(value: Any) -> bool:
    return value not in (None, "", [], {})


def _has_link(facts: Facts, kind: str | None, title: str | None) -> tuple[bool, str]:
    for link in facts.get("links") or []:
        if kind is not None and link.get("kind") != kind:
            continue
        if title is not None and title.lower() not in str(link.get("title", "")).lower():
            continue
        return True, ""
    wanted = " ".join(p for p in (f"of kind {kind}" if kind else "",
                                  f"titled '{title}'" if title else "") if p)  # fmt: skip
    return False, f"no link {wanted}".rstrip()


def _health(facts: Facts) -> tuple[bool, str]:
    status = facts.get("health")
    if status is None:
        return False, "no health check"
    return status == "passing", f"health checks are {status}"


def _drift(facts: Facts) -> tuple[bool, str]:
    findings = facts.get("drift") or []
    if not findings:
        return True, "no drift"
    said = [str(getattr(f, "message", None) or f) for f in findings]
    return False, f"{len(findings)} drift finding(s): " + "; ".join(said)


def _flag(key: str, missing: str) -> Callable[[Facts], tuple[bool, str]]:
    return lambda facts: (_set(_get(facts, key)), missing)


_FLAGS: dict[str, Callable[[Facts], tuple[bool, str]]] = {
    "has_owner": _flag("owner", "no owning team"),
    "has_description": _flag("description", "no description"),
    "has_repository": _flag("repositoryUrl", "no repository URL"),
    "documented_api": lambda f: (
        _set(f.get("apiSpecUrl")) or _set(f.get("openapi")),
        "no API spec URL or inline OpenAPI",
    ),
    "has_oncall": lambda f: (
        _has_link(f, "oncall", None)[0] or _set(_get(f, "metadata.oncall")),
        "no link of kind oncall and no metadata.oncall",
    ),
    "health_checks_passing": _health,
    "no_drift": _drift,
}
