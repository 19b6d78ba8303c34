"""Who is on call: daily and weekly rotations at a wall-clock handoff (across a
daylight-saving change), layers, overrides, and the shifts of a period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from loom.notify.oncall import Layer, OverrideSpan, shifts, who

PARIS = ZoneInfo("Europe/Paris")
ANN, BOB, CAT, DAN = (uuid.uuid4() for _ in range(4))


def layer(rotation: str, users: tuple[uuid.UUID, ...], name: str = "primary",
          start: str = "2026-10-19") -> Layer:  # fmt: skip
    return Layer.of({"name": name, "rotation": rotation, "handoff": "09:00", "start": start,
                     "user_ids": [str(u) for u in users]})  # fmt: skip


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_daily_rotation_hands_off_at_nine_local_time_across_dst() -> None:
    daily = layer("daily", (ANN, BOB, CAT))
    # 2026-10-25: Paris leaves summer time (UTC+2 -> UTC+1) at 03:00.
    assert who([daily], [], PARIS, utc("2026-10-19T07:00:00")).user_id == ANN  # 09:00 CEST
    assert who([daily], [], PARIS, utc("2026-10-20T06:59:00")).user_id == ANN
    assert who([daily], [], PARIS, utc("2026-10-20T07:00:00")).user_id == BOB
    # CAT's shift of 24 October starts at 09:00 CEST (07:00 UTC) and ends at 09:00 CET on
    # the 25th (08:00 UTC), after the clocks went back: 25 hours.
    shift = who([daily], [], PARIS, utc("2026-10-24T12:00:00"))
    assert shift is not None and shift.user_id == CAT
    assert (shift.starts_at, shift.ends_at) == (utc("2026-10-24T07:00:00"),
                                                utc("2026-10-25T08:00:00"))  # fmt: skip
    assert who([daily], [], PARIS, utc("2026-10-25T07:59:00")).user_id == CAT
    assert who([daily], [], PARIS, utc("2026-10-25T08:00:00")).user_id == ANN
    assert who([daily], [], PARIS, utc("2026-10-26T08:00:00")).user_id == BOB


def test_before_its_start_a_layer_has_nobody() -> None:
    assert who([layer("daily", (ANN,))], [], PARIS, utc("2026-10-19T06:59:00")) is None


def test_a_weekly_rotation_and_a_higher_layer_and_an_override() -> None:
    weekly = layer("weekly", (ANN, BOB))
    weekend = layer("daily", (DAN,), name="follow-the-sun", start="2026-11-07")
    at = utc("2026-11-03T12:00:00")  # third week: ANN again
    assert who([weekly], [], PARIS, at).user_id == ANN
    assert who([weekly], [], PARIS, utc("2026-10-27T12:00:00")).user_id == BOB
    later = utc("2026-11-08T12:00:00")
    assert who([weekly, weekend], [], PARIS, later).user_id == DAN  # the higher layer
    cover = OverrideSpan(CAT, utc("2026-11-03T10:00:00"), utc("2026-11-03T14:00:00"))
    found = who([weekly, weekend], [cover], PARIS, at)
    assert found is not None and (found.user_id, found.source) == (CAT, "override")


def test_shifts_of_a_period_are_cut_where_the_person_changes() -> None:
    daily = layer("daily", (ANN, BOB))
    cover = OverrideSpan(CAT, utc("2026-10-20T12:00:00"), utc("2026-10-20T13:00:00"))
    found = shifts([daily], [cover], PARIS, utc("2026-10-20T00:00:00"), utc("2026-10-21T00:00:00"))
    assert [(s.user_id, s.starts_at.hour, s.ends_at.hour) for s in found] == [
        (ANN, 0, 7), (BOB, 7, 12), (CAT, 12, 13), (BOB, 13, 0),
    ]  # fmt: skip
