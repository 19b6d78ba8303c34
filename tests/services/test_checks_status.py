"""A check's status machine: every (from, to) pair is either a listed transition, no
change, or refused."""

from __future__ import annotations

import itertools

import pytest

from loom.services.checks.schemas import CheckStatus
from loom.services.checks.status import TRANSITIONS, changes


@pytest.mark.parametrize(("old", "new"), list(itertools.product(CheckStatus, CheckStatus)))
def test_every_pair_follows_the_table(old: CheckStatus, new: CheckStatus) -> None:
    if old == new:
        assert changes(old, new) is False
    elif new in TRANSITIONS[old]:
        assert changes(old, new) is True
    else:
        with pytest.raises(ValueError, match="cannot go"):
            changes(old, new)


def test_no_run_outcome_leads_back_to_unknown() -> None:
    # Only a changed definition resets a check; results never do.
    assert CheckStatus.UNKNOWN not in TRANSITIONS[CheckStatus.UNKNOWN]
    for outcome in (CheckStatus.PASSING, CheckStatus.DEGRADED, CheckStatus.FAILING):
        assert all(outcome in TRANSITIONS[s] for s in CheckStatus if s != outcome)
