"""CODEOWNERS: which team owns a path of the catalog repository (the last matching
pattern wins, as on GitHub). Owners are written `@org/team` or `@team`; Loom uses the team
slug."""

from __future__ import annotations

from dataclasses import dataclass

import pathspec

#: Where GitHub looks for the file, in its order.
LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass(frozen=True)
class Rule:
    pattern: str
    spec: pathspec.PathSpec  # type: ignore[type-arg]
    owners: tuple[str, ...]


class CodeOwners:
    def __init__(self, text: str = "") -> None:
        self.rules: list[Rule] = []
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            pattern, *owners = line.split()
            spec = pathspec.PathSpec.from_lines("gitignore", [pattern])
            self.rules.append(Rule(pattern, spec, tuple(_team_slug(o) for o in owners)))

    def owners_of(self, path: str) -> tuple[str, ...]:
        for rule in reversed(self.rules):
            if rule.spec.match_file(path):
                return rule.owners
        return ()

    def team_of(self, path: str) -> str | None:
        owners = self.owners_of(path)
        return owners[0] if owners else None


def _team_slug(owner: str) -> str:
    owner = owner.lstrip("@")
    return owner.rsplit("/", 1)[-1].lower()
