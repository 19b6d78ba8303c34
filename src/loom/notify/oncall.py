"""Who is on call: rotations computed from a schedule's layers in its time zone, with
overrides on top. Handoffs happen at the schedule's wall-clock time, so a rotation keeps
its 09:00 handoff across daylight-saving changes (that day's shift is an hour shorter or
longer)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

#: Days per shift of each rotation.
ROTATION_DAYS = {"daily": 1, "weekly": 7}


@dataclass(frozen=True)
class Layer:
    name: str
    rotation: str
    handoff: time
    start: date
    user_ids: tuple[uuid.UUID, ...]

    @classmethod
    def of(cls, data: dict[str, Any]) -> Layer:
        return cls(
            name=str(data.get("name", "")), rotation=data["rotation"],
            handoff=time.fromisoformat(data["handoff"]), start=date.fromisoformat(data["start"]),
            user_ids=tuple(uuid.UUID(u) for u in data["user_ids"]),
        )  # fmt: skip

    def shift_start(self, day: date, zone: ZoneInfo) -> datetime:
        """When the shift beginning on local `day` starts (aware, UTC)."""
        return datetime.combine(day, self.handoff, zone).astimezone(ZoneInfo("UTC"))

    def on_call(self, at: datetime, zone: ZoneInfo) -> tuple[uuid.UUID, datetime, datetime] | None:
        """Who is on call at `at`, and their shift (start, end); None before the start."""
        if not self.user_ids:
            return None
        local = at.astimezone(zone)
        day = (
            local.date()
            if local.timetz().replace(tzinfo=None) >= self.handoff
            else (local.date() - timedelta(days=1))
        )
        days = (day - self.start).days
        if days < 0:
            return None
        length = ROTATION_DAYS[self.rotation]
        index = days // length
        first = self.start + timedelta(days=index * length)
        start = self.shift_start(first, zone)
        end = self.shift_start(first + timedelta(days=length), zone)
        return self.user_ids[index % len(self.user_ids)], start, end


@dataclass(frozen=True)
class OverrideSpan:
    user_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Shift:
    user_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    #: The layer's name, or "override".
    source: str


def who(
    layers: Sequence[Layer], overrides: Sequence[OverrideSpan], zone: ZoneInfo, at: datetime
) -> Shift | None:
    """Who is on call at `at`: the latest override covering it, else the highest layer
    with someone on call."""
    covering = [o for o in overrides if o.starts_at <= at < o.ends_at]
    if covering:
        o = covering[-1]
        return Shift(o.user_id, o.starts_at, o.ends_at, "override")
    for layer in reversed(layers):
        found = layer.on_call(at, zone)
        if found is not None:
            user_id, start, end = found
            return Shift(user_id, start, end, layer.name)
    return None


def shifts(
    layers: Sequence[Layer],
    overrides: Sequence[OverrideSpan],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
) -> list[Shift]:
    """The on-call shifts between `start` and `end`, cut where whoever is on call
    changes (consecutive pieces of one person's time joined)."""
    out: list[Shift] = []
    for moment, until in _pieces(layers, overrides, zone, start, end):
        found = who(layers, overrides, zone, moment)
        if found is None:
            continue
        if out and out[-1].user_id == found.user_id and out[-1].ends_at == moment:
            last = out.pop()
            out.append(Shift(last.user_id, last.starts_at, until, last.source))
        else:
            out.append(Shift(found.user_id, moment, until, found.source))
    return out


def _pieces(
    layers: Sequence[Layer],
    overrides: Sequence[OverrideSpan],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut at every handoff and override boundary."""
    cuts = {start, end}
    for o in overrides:
        cuts.update(t for t in (o.starts_at, o.ends_at) if start < t < end)
    for layer in layers:
        day = start.astimezone(zone).date() - timedelta(days=1)
        while True:
            moment = layer.shift_start(day, zone)
            if moment >= end:
                break
            if moment > start:
                cuts.add(moment)
            day += timedelta(days=1)
    ordered = sorted(cuts)
    yield from itertools.pairwise(ordered)
