"""The circuit breaker of one (integration, host): it opens after consecutive
failures and lets one trial call through after a cool-down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from loom.platform.http.errors import CircuitOpen

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """closed → open after `threshold` consecutive failures → half-open once `cooldown`
    seconds have passed, letting one trial call through: its success closes the circuit,
    its failure opens it again for another cool-down. Single event loop; not thread-safe."""

    def __init__(
        self, key: str, threshold: int, cooldown: float, clock: Callable[[], float]
    ) -> None:
        self.key = key
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._trial_running or self._clock() - self._opened_at >= self._cooldown:
            return "half-open"
        return "open"

    @property
    def failures(self) -> int:
        return self._failures

    def before_call(self) -> None:
        """Raise CircuitOpen, or let the call through (as the trial when half-open)."""
        if self._opened_at is None:
            return
        waited = self._clock() - self._opened_at
        if self._trial_running or waited < self._cooldown:
            raise CircuitOpen(self.key, max(self._cooldown - waited, 0.0))
        self._trial_running = True

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial_running or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._trial_running = False

    def release(self) -> None:
        """The call ended without a verdict (cancelled): free the trial slot."""
        self._trial_running = False
