"""Sign-in throttling: after too many failed sign-ins within a window, per account and per client
address, further attempts are refused (HTTP 429 with Retry-After) before any password is checked.

The counts live in this process's memory: fine for the embedded default (one server process);
with several API processes each counts on its own, so the effective limit is multiplied by their number.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

MAX_KEYS = 100_000  # bounded memory: beyond this, keys whose failures all left the window are dropped first


class LoginThrottle:
    def __init__(
        self,
        per_account: int = 5,
        per_address: int = 20,
        window_seconds: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"account": per_account, "address": per_address}
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def retry_after(self, account: str, address: str) -> int:
        """Seconds to wait before another attempt may be made (0: go ahead)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for kind, value in (("account", account), ("address", address)):
                failures = self._recent((kind, value), now)
                limit = self.limits[kind]
                if limit > 0 and len(failures) >= limit:
                    wait = max(wait, failures[len(failures) - limit] + self.window - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                self._prune(now)
            for key in (("account", account), ("address", address)):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, account: str) -> None:
        """A right password clears the account's failures (not the address's)."""
        with self._lock:
            self._failures.pop(("account", account), None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= MAX_KEYS:  # still full: forget the tenth that failed longest ago
            by_age = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in by_age[: len(by_age) // 10 + 1]:
                del self._failures[key]
