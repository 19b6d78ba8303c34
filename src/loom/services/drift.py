"""Drift rules: where the environments of one service disagree in a way worth a look.

Pure functions over what runs where (no database, no clock: `now` is passed in), so each
rule is tested on its own. Versions are opaque strings, compared for equality only.
Each environment is compared with the one ranked just before it:

- `behind`: it runs another version than the one before it, for longer than its
  threshold, counted from when the one before it got the version it lacks (or, if it
  had that version too and moved off it, from when it moved);
- `unseen_version`: it runs a version never deployed to the one before it (a hot-fix
  straight to production);
- `missing`: it has deployments while the one before it never had any.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

Kind = Literal["behind", "unseen_version", "missing"]


@dataclass(frozen=True)
class Stage:
    """An environment as the rules see it."""

    slug: str
    rank: int
    threshold: timedelta


@dataclass(frozen=True)
class Running:
    """The version an environment runs now, and since when it has run it without a
    break (a redeploy of the same version keeps the date; a rollback and back resets it)."""

    version: str
    since: datetime


@dataclass(frozen=True)
class ServiceState:
    """One service across environments: what each runs now (`running`, by environment
    slug) and every version each was ever given (`seen`)."""

    service_id: uuid.UUID
    slug: str
    running: Mapping[str, Running]
    seen: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Finding:
    service_id: uuid.UUID
    service: str
    environment: str
    kind: Kind
    message: str
    version: str
    reference_environment: str
    reference_version: str | None
    since: datetime


def find_drift(stages: Sequence[Stage], state: ServiceState, now: datetime) -> list[Finding]:
    """The findings of one service, in environment order."""
    ordered = sorted(stages, key=lambda s: s.rank)
    findings: list[Finding] = []
    for before, stage in pairwise(ordered):
        current = state.running.get(stage.slug)
        if current is None:
            continue  # nothing here yet: not deployed this far is not drift
        found = _missing(state, before, stage, current) or _unseen(state, before, stage, current)
        if found is not None:
            findings.append(found)
        behind = _behind(state, before, stage, current, now)
        if behind is not None:
            findings.append(behind)
    return findings


def _finding(
    state: ServiceState, stage: Stage, kind: Kind, message: str, current: Running,
    before: Stage, reference: Running | None, since: datetime,
) -> Finding:  # fmt: skip
    return Finding(
        service_id=state.service_id,
        service=state.slug,
        environment=stage.slug,
        kind=kind,
        message=message,
        version=current.version,
        reference_environment=before.slug,
        reference_version=reference.version if reference else None,
        since=since,
    )


def _missing(state: ServiceState, before: Stage, stage: Stage, current: Running) -> Finding | None:
    if state.seen.get(before.slug):
        return None
    message = (
        f"{state.slug} runs {current.version} in {stage.slug} "
        f"but was never deployed to {before.slug}"
    )
    return _finding(state, stage, "missing", message, current, before, None, current.since)


def _unseen(state: ServiceState, before: Stage, stage: Stage, current: Running) -> Finding | None:
    if current.version in state.seen.get(before.slug, frozenset()):
        return None
    reference = state.running.get(before.slug)
    message = (
        f"{state.slug} {current.version} runs in {stage.slug} "
        f"but was never deployed to {before.slug}"
    )
    return _finding(state, stage, "unseen_version", message, current, before, reference,
                    current.since)  # fmt: skip


def _behind(
    state: ServiceState, before: Stage, stage: Stage, current: Running, now: datetime
) -> Finding | None:
    reference = state.running.get(before.slug)
    if reference is None or reference.version == current.version:
        return None
    since = reference.since
    if reference.version in state.seen.get(stage.slug, frozenset()):
        # It had that version and moved off it (a hot-fix, a rollback): it lacks it only
        # since it moved.
        since = max(since, current.since)
    if now - since <= stage.threshold:
        return None
    hours = int((now - since).total_seconds() // 3600)
    message = (
        f"{stage.slug} runs {state.slug} {current.version} while {before.slug} has run "
        f"{reference.version} for {hours} h (threshold {_hours(stage.threshold)} h)"
    )
    return _finding(state, stage, "behind", message, current, before, reference, since)


def _hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)
