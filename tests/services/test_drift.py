"""The drift rules, on their own: what runs where in, findings out, the clock passed in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from loom.services.drift import Running, ServiceState, Stage, find_drift

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
STAGES = [
    Stage("production", 30, timedelta(hours=72)),  # out of order on purpose: rank decides
    Stage("dev", 10, timedelta(hours=72)),
    Stage("staging", 20, timedelta(hours=24)),
]


def state(
    running: dict[str, tuple[str, datetime]], seen: dict[str, set[str]] | None = None
) -> ServiceState:
    """`seen` defaults to each environment having had only what it runs now."""
    history = seen if seen is not None else {env: {v} for env, (v, _) in running.items()}
    return ServiceState(
        service_id=uuid.uuid4(),
        slug="orders",
        running={env: Running(v, since) for env, (v, since) in running.items()},
        seen={env: frozenset(vs) for env, vs in history.items()},
    )


def kinds(findings: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(f.environment, f.kind) for f in findings]


def test_same_version_everywhere_is_no_drift() -> None:
    s = state({e: ("1.0", NOW - 30 * DAY) for e in ("dev", "staging", "production")})
    assert find_drift(STAGES, s, NOW) == []


def test_behind_within_threshold_is_not_drift() -> None:
    s = state(
        {"dev": ("2.0", NOW - 5 * DAY), "staging": ("2.0", NOW - 2 * DAY),
         "production": ("1.0", NOW - 30 * DAY)},
        seen={"dev": {"1.0", "2.0"}, "staging": {"1.0", "2.0"}, "production": {"1.0"}},
    )  # fmt: skip
    assert find_drift(STAGES, s, NOW) == []


def test_behind_over_threshold_counts_from_when_the_earlier_environment_got_it() -> None:
    seen = {"dev": {"1.0", "2.0"}, "staging": {"1.0", "2.0"}, "production": {"1.0"}}
    running = {"dev": ("2.0", NOW - 9 * DAY), "staging": ("2.0", NOW - 4 * DAY),
               "production": ("1.0", NOW - 30 * DAY)}  # fmt: skip
    [finding] = find_drift(STAGES, state(running, seen), NOW)
    assert finding.kind == "behind"
    assert (finding.environment, finding.version) == ("production", "1.0")
    assert (finding.reference_environment, finding.reference_version) == ("staging", "2.0")
    assert finding.since == NOW - 4 * DAY
    assert "production" in finding.message and "2.0" in finding.message
    # The same data one day earlier is within production's 72 h.
    assert find_drift(STAGES, state(running, seen), NOW - 2 * DAY) == []


def test_threshold_is_the_later_environments() -> None:
    # staging (24 h) behind dev for 2 days is drift; production (72 h) is level.
    seen = {"dev": {"1.0", "2.0"}, "staging": {"1.0"}, "production": {"1.0"}}
    running = {"dev": ("2.0", NOW - 2 * DAY), "staging": ("1.0", NOW - 9 * DAY),
               "production": ("1.0", NOW - 9 * DAY)}  # fmt: skip
    assert kinds(find_drift(STAGES, state(running, seen), NOW)) == [("staging", "behind")]


def test_hotfix_straight_to_production_is_an_unseen_version() -> None:
    running = {"dev": ("1.0", NOW - 9 * DAY), "staging": ("1.0", NOW - 9 * DAY),
               "production": ("1.0-hotfix", NOW - DAY)}  # fmt: skip
    seen = {"dev": {"1.0"}, "staging": {"1.0"}, "production": {"1.0", "1.0-hotfix"}}
    [finding] = find_drift(STAGES, state(running, seen), NOW)
    assert (finding.kind, finding.environment, finding.version) == (
        "unseen_version", "production", "1.0-hotfix",
    )  # fmt: skip
    assert (finding.reference_environment, finding.reference_version) == ("staging", "1.0")
    assert finding.since == NOW - DAY  # found at once, no threshold


def test_unseen_reads_history_not_only_what_runs_now() -> None:
    # staging moved on to 2.0, but it did run 1.5, which production runs: not unseen.
    running = {"dev": ("2.0", NOW - DAY), "staging": ("2.0", NOW - DAY),
               "production": ("1.5", NOW - 2 * DAY)}  # fmt: skip
    seen = {"dev": {"1.5", "2.0"}, "staging": {"1.5", "2.0"}, "production": {"1.5"}}
    assert find_drift(STAGES, state(running, seen), NOW) == []
    # Without 1.5 in staging's history, the same current versions are an unseen version.
    seen["staging"] = {"2.0"}
    assert kinds(find_drift(STAGES, state(running, seen), NOW)) == [
        ("production", "unseen_version")
    ]


def test_unseen_and_behind_can_both_hold() -> None:
    running = {"dev": ("2.0", NOW - 10 * DAY), "staging": ("2.0", NOW - 10 * DAY),
               "production": ("1.9-hotfix", NOW - 5 * DAY)}  # fmt: skip
    seen = {"dev": {"2.0"}, "staging": {"2.0"}, "production": {"1.9-hotfix"}}
    assert kinds(find_drift(STAGES, state(running, seen), NOW)) == [
        ("production", "unseen_version"), ("production", "behind"),
    ]  # fmt: skip


def test_deployed_later_but_never_earlier_is_missing() -> None:
    running = {"dev": ("1.0", NOW - DAY), "production": ("1.0", NOW - DAY)}
    [finding] = find_drift(STAGES, state(running), NOW)
    assert (finding.kind, finding.environment) == ("missing", "production")
    assert (finding.reference_environment, finding.reference_version) == ("staging", None)


def test_not_yet_deployed_further_is_not_drift() -> None:
    # A new service only in dev and staging: production runs nothing, nothing to compare.
    running = {"dev": ("0.1", NOW - 30 * DAY), "staging": ("0.1", NOW - 30 * DAY)}
    assert find_drift(STAGES, state(running), NOW) == []


def test_behind_after_moving_off_the_version_counts_from_the_move() -> None:
    # production ran 2.0 too, then rolled back to 1.0 four days ago: behind since then.
    running = {"dev": ("2.0", NOW - 20 * DAY), "staging": ("2.0", NOW - 20 * DAY),
               "production": ("1.0", NOW - 4 * DAY)}  # fmt: skip
    seen = {"dev": {"1.0", "2.0"}, "staging": {"1.0", "2.0"}, "production": {"1.0", "2.0"}}
    [finding] = find_drift(STAGES, state(running, seen), NOW)
    assert (finding.kind, finding.since) == ("behind", NOW - 4 * DAY)
    assert find_drift(STAGES, state(running, seen), NOW - 2 * DAY) == []
