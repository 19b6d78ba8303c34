"""Slows password guessing: after too many failed logins for one account, further
attempts are refused for a while. Kept in memory per process (a replica set multiplies the
allowance by its size, still far below what guessing needs)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from loom.errors import RateLimited


@dataclass
class LoginThrottle:
    max_failures: int = 5
    window_seconds: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.setdefault(key, deque())
        while stamps and now - stamps[0] > self.window_seconds:
            stamps.popleft()
        return stamps

    def check(self, email: str) -> None:
        now = time.monotonic()
        stamps = self._recent(email.lower(), now)
        if len(stamps) >= self.max_failures:
            wait = int(self.window_seconds - (now - stamps[0])) + 1
            raise RateLimited(f"too many failed logins for this account; try again in {wait} s")

    def failed(self, email: str) -> None:
        self._recent(email.lower(), time.monotonic()).append(time.monotonic())
        if len(self._failures) > 100_000:  # bound memory under a spray of random emails
            self._failures.clear()

    def succeeded(self, email: str) -> None:
        self._failures.pop(email.lower(), None)
