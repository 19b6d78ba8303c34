"""`kind: ScorecardRule` documents of the catalog repository (`scorecards/`), one rule per
document (a file may hold several, separated by `---`).

```yaml
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: has-runbook, title: Has a runbook}
spec:
  level: bronze                # bronze | silver | gold
  message: Add a link of kind runbook to the service.
  appliesTo: {tier: [1, 2], lifecycle: [production]}   # optional; tags, system too
  check: {hasLink: {kind: runbook}}
```

A check is one node of a fixed vocabulary (evaluated in `scorecards.py`):
`hasOwner`, `hasDescription`, `hasRepository`, `documentedApi` (an API spec URL or an
inline OpenAPI), `hasOncall` (a link of kind oncall, or `metadata.oncall`),
`healthChecksPassing`, `noDrift` (each `true`); `hasLink: {kind, title}` (title: a
case-insensitive substring); `minOwners: N` (members of the owning team with the
operator role or above); a comparison of a fact as in the catalog's conditions
(`{field: metadata.pager, isSet: true}`, `equals`, `notEquals`, `in`, `notIn`); and
`all: [...]`, `any: [...]`, `not: {...}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from loom.catalog.conditions import shape_problems
from loom.catalog.documents import Condition
from loom.catalog.yaml_source import Path
from loom.services.documents import Doc
from loom.services.kinds import Lifecycle, LinkKind
from loom.services.schemas import Grouping, Name, Slug, Tag, Tier


class Level(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


#: Lowest first: a level is achieved when its rules and those of every level below pass.
LEVELS = (Level.BRONZE, Level.SILVER, Level.GOLD)

#: Checks that take `true` and look at one fact each.
FLAGS = (
    "has_owner", "has_description", "has_repository", "documented_api", "has_oncall",
    "health_checks_passing", "no_drift",
)  # fmt: skip
COMBINATORS = ("all", "any", "not_")
COMPARISONS = ("equals", "not_equals", "in_", "not_in", "is_set")


def _listed(value: object) -> object:
    return value if isinstance(value, list) or value is None else [value]


class LinkMatch(Doc):
    kind: LinkKind | None = None
    title: str | None = Field(default=None, description="Case-insensitive part of the title")


class Check(Condition):
    """One check node: exactly one flag, `hasLink`, `minOwners`, a field comparison or a
    combinator."""

    has_owner: Literal[True] | None = None
    has_description: Literal[True] | None = None
    has_repository: Literal[True] | None = None
    documented_api: Literal[True] | None = None
    has_oncall: Literal[True] | None = None
    health_checks_passing: Literal[True] | None = None
    no_drift: Literal[True] | None = None
    has_link: LinkMatch | None = None
    min_owners: int | None = Field(default=None, ge=1, le=100)
    all: list[Check] | None = None  # type: ignore[assignment]
    any: list[Check] | None = None  # type: ignore[assignment]
    not_: Check | None = Field(default=None, alias="not")  # type: ignore[assignment]

    def forms(self) -> list[str]:
        named = [*FLAGS, "has_link", "min_owners", *COMBINATORS]
        return [n for n in named if getattr(self, n) is not None]


class AppliesTo(Doc):
    """Which services a rule judges: every filter given must match (a list: any of it)."""

    tier: Annotated[list[Tier] | None, BeforeValidator(_listed)] = None
    lifecycle: Annotated[list[Lifecycle] | None, BeforeValidator(_listed)] = None
    tags: Annotated[list[Tag] | None, BeforeValidator(_listed)] = None
    system: Annotated[list[Grouping] | None, BeforeValidator(_listed)] = None


class RuleMetadata(Doc):
    id: Slug
    title: Name
    description: str = Field(default="", max_length=2000)


class RuleSpec(Doc):
    level: Level
    message: Annotated[str, Field(min_length=1, max_length=2000, description="How to pass")]
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    check: Check


class ScorecardRuleDocument(Doc):
    api_version: Literal["loom/v1"]
    kind: Literal["ScorecardRule"]
    metadata: RuleMetadata
    spec: RuleSpec


def rule_findings(document: ScorecardRuleDocument) -> Iterator[tuple[Path, str]]:
    """Check nodes that take more than one form, or none."""
    yield from _shape(document.spec.check, ("spec", "check"))


def _shape(check: Check, path: Path) -> Iterator[tuple[Path, str]]:
    forms = check.forms()
    compares = check.field is not None or any(k in check.model_fields_set for k in COMPARISONS)
    if len(forms) + compares != 1:
        yield path, "give exactly one check (hasOwner, hasLink, minOwners, field, all...)"
        return
    if compares:
        for _, issue in shape_problems(check):
            yield path, issue
    for name in ("all", "any"):
        for i, child in enumerate(getattr(check, name) or []):
            yield from _shape(child, (*path, name, i))
    if check.not_ is not None:
        yield from _shape(check.not_, (*path, "not"))


Check.model_rebuild()
