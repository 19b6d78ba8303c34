"""A check's status as a state machine: the outcome of each run moves it, following the
transition table below. `unknown` is where a new (or changed) check starts."""

from __future__ import annotations

from loom.services.checks.schemas import CheckStatus

U, P, D, F = CheckStatus.UNKNOWN, CheckStatus.PASSING, CheckStatus.DEGRADED, CheckStatus.FAILING

#: Allowed moves. A run's outcome (passing, degraded, failing) may follow any status;
#: only a change of the check's definition sends it back to unknown.
TRANSITIONS: dict[CheckStatus, frozenset[CheckStatus]] = {
    U: frozenset({P, D, F}),
    P: frozenset({D, F, U}),
    D: frozenset({P, F, U}),
    F: frozenset({P, D, U}),
}

#: Worst first: a service's overall health is its worst enabled check.
SEVERITY: dict[CheckStatus, int] = {F: 3, D: 2, P: 1, U: 0}


def changes(current: CheckStatus, new: CheckStatus) -> bool:
    """Whether moving from `current` to `new` is a change; ValueError if not allowed."""
    if new == current:
        return False
    if new not in TRANSITIONS[current]:
        raise ValueError(f"a check cannot go from {current} to {new}")
    return True


def worst(statuses: list[CheckStatus]) -> CheckStatus:
    """The overall status of several checks: failing > degraded > passing; unknown only
    when there is nothing known."""
    known = [s for s in statuses if s != U]
    return max(known, key=SEVERITY.__getitem__) if known else U
