"""Failed-login counting per client address and per user name, in a sliding window.

Kept in the serving process's memory: a restart forgets it, and several console nodes each
count their own (put the console behind one node, or a shared counter, when that matters).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginLimiter:
    """``blocked(addr, user)`` once either has ``per_address``/``per_user`` failures in
    ``window`` seconds; a success clears the user's failures."""

    def __init__(
        self, per_address: int, per_user: int, window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"addr": per_address, "user": per_user}
        self._window = window
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> int:
        times = self._failures.get(key)
        if times is None:
            return 0
        horizon = self._clock() - self._window
        while times and times[0] < horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0
        return len(times)

    def blocked(self, address: str, user: str) -> bool:
        return (self._recent(("addr", address)) >= self._limits["addr"]
                or self._recent(("user", user.lower())) >= self._limits["user"])

    def failed(self, address: str, user: str) -> None:
        now = self._clock()
        for key in (("addr", address), ("user", user.lower())):
            self._failures.setdefault(key, deque()).append(now)
        if len(self._failures) > 100_000:  # a flood of names: forget the oldest keys
            for stale in list(self._failures)[:50_000]:
                del self._failures[stale]

    def succeeded(self, user: str) -> None:
        self._failures.pop(("user", user.lower()), None)
