"""Scorecard API shapes: a rule, a service's scorecard, and the readiness report."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from loom.services.scorecard_rules import Level


class ScorecardRule(BaseModel):
    id: str
    title: str
    description: str
    level: Level
    message: str
    applies_to: dict[str, Any]
    check: dict[str, Any] = Field(description="As written in the rule's document")
    source_file: str
    stale: bool = Field(description="Invalid in the repository now: its last good version counts")


class RuleResult(BaseModel):
    id: str
    title: str
    level: Level
    passed: bool
    message: str = Field(description="What to do to pass")
    detail: str = Field(description="Why it failed (empty when it passed)")


class ServiceScorecard(BaseModel):
    service: str
    level: Level | None = Field(description="The highest level achieved; null: not even bronze")
    score: float = Field(description="Percentage of the applicable rules passed")
    rules: list[RuleResult]


class ReportItem(BaseModel):
    service: str
    name: str
    team: str | None
    level: Level | None
    score: float
    failing: list[RuleResult]
    go: dict[str, bool] = Field(description="Environment -> meets the level it requires")


class Report(BaseModel):
    environment: str | None
    required_levels: dict[str, Level]
    summary: dict[str, int]
    items: list[ReportItem]
