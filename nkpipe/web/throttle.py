"""Failed sign-ins slow password guessing down: too many within a window and the login refuses.

Counted per account name and, more loosely, per client address, so one guesser cannot try
many passwords on one account nor one password on many accounts. The counts live in the
server process (``nkpipe serve`` runs one), so a restart forgets them; that costs a guesser
no more than a restart's worth of tries.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# An address may fail this many times more than one account name before it is refused too,
# so colleagues behind one NAT who mistype do not lock each other out at once.
ADDRESS_ALLOWANCE = 4
_SWEEP_EVERY = 256  # calls between sweeps of keys whose failures have all expired
_NAME_CHARS = 64  # longer names are no account's name; their key is cut so it stays small


@dataclass(frozen=True)
class Attempt:
    """A sign-in let through, counted as failed until ``LoginThrottle.succeeded`` says otherwise."""

    name_key: str
    address_key: str
    at: float


class LoginThrottle:
    def __init__(self, failures_allowed: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures_allowed = failures_allowed
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def attempt(self, name: str, address: str) -> Attempt | int:
        """An ``Attempt`` when a sign-in may be tried now, else the seconds to wait.

        The attempt is counted as a failure at once, in the same locked step as the check, so
        guesses sent in parallel cannot all pass the check before any of them is counted.
        """
        now = self._clock()
        keys = [(_name_key(name), self.failures_allowed),
                (f"address:{address}", self.failures_allowed * ADDRESS_ALLOWANCE)]
        with self._lock:
            self._sweep_now_and_then(now)
            if self.failures_allowed > 0:
                wait_s = max(self._wait(key, limit, now) for key, limit in keys)
                if wait_s:
                    return wait_s
                for key, _ in keys:
                    self._failures.setdefault(key, deque()).append(now)
        return Attempt(keys[0][0], keys[1][0], now)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the name's count is cleared and the address's loses this attempt."""
        with self._lock:
            self._failures.pop(attempt.name_key, None)
            failures = self._failures.get(attempt.address_key)
            if failures and attempt.at in failures:
                failures.remove(attempt.at)

    def tracked_keys(self) -> int:
        with self._lock:
            return len(self._failures)

    def _wait(self, key: str, limit: int, now: float) -> int:
        failures = self._failures.get(key)
        if not failures or not self._expire(key, failures, now) or len(failures) < limit:
            return 0
        return max(1, math.ceil(failures[-limit] + self.window_s - now))

    def _expire(self, key: str, failures: deque[float], now: float) -> bool:
        """Drops failures older than the window; False (and the key gone) when none is left."""
        while failures and now - failures[0] >= self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return bool(failures)

    def _sweep_now_and_then(self, now: float) -> None:
        self._calls += 1
        if self._calls % _SWEEP_EVERY == 0:
            for key, failures in list(self._failures.items()):
                self._expire(key, failures, now)


def _name_key(name: str) -> str:
    return f"name:{name.strip().casefold()[:_NAME_CHARS]}"
