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
from collections import defaultdict, deque
from collections.abc import Callable

# An address may fail this many times more than one account name before it is refused too,
# so colleagues behind one NAT who mistype do not lock each other out at once.
ADDRESS_ALLOWANCE = 4


class LoginThrottle:
    def __init__(self, failures_allowed: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures_allowed = failures_allowed
        self.window_s = window_s
        self._clock = clock
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def seconds_to_wait(self, name: str, address: str) -> int:
        """0 when a sign-in may be tried now, else how long until the oldest counted failure expires."""
        if self.failures_allowed <= 0:
            return 0
        now = self._clock()
        with self._lock:
            waits = [self._wait(key, limit, now) for key, limit in self._limits(name, address)]
        return max(waits)

    def failed(self, name: str, address: str) -> None:
        if self.failures_allowed <= 0:
            return
        now = self._clock()
        with self._lock:
            for key, _ in self._limits(name, address):
                self._failures[key].append(now)

    def succeeded(self, name: str) -> None:
        """A right password clears the name's count (the address keeps its own)."""
        with self._lock:
            self._failures.pop(_name_key(name), None)

    def _limits(self, name: str, address: str) -> list[tuple[str, int]]:
        return [(_name_key(name), self.failures_allowed),
                (f"address:{address}", self.failures_allowed * ADDRESS_ALLOWANCE)]

    def _wait(self, key: str, limit: int, now: float) -> int:
        failures = self._failures.get(key)
        if not failures:
            return 0
        while failures and now - failures[0] >= self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return 0
        if len(failures) < limit:
            return 0
        return max(1, math.ceil(failures[-limit] + self.window_s - now))


def _name_key(name: str) -> str:
    return f"name:{name.strip().casefold()}"
