"""Failed sign-ins are counted per account name and per address; a full count refuses for the window."""

import threading

from nkpipe.web.throttle import ADDRESS_ALLOWANCE, Attempt, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, name: str, address: str) -> None:
    assert isinstance(throttle.attempt(name, address), Attempt)  # let through, and counted as failed


def test_throttle_refuses_a_name_after_its_failures_until_the_window_passes():
    clock = Clock()
    throttle = LoginThrottle(3, 600, clock)
    for _ in range(2):
        fail(throttle, "alice", "10.0.0.1")
        clock.now += 10
    fail(throttle, "Alice ", "10.0.0.2")  # the same account, typed differently, from elsewhere
    assert throttle.attempt("alice", "10.0.0.9") == 600 - 20
    assert isinstance(throttle.attempt("bob", "10.0.0.1"), Attempt)
    clock.now += 600 - 20
    assert isinstance(throttle.attempt("alice", "10.0.0.1"), Attempt)


def test_throttle_success_clears_the_name_but_not_the_addresses_other_failures():
    clock = Clock()
    throttle = LoginThrottle(2, 600, clock)
    fail(throttle, "carol", "10.0.0.1")
    clock.now += 1
    throttle.succeeded(throttle.attempt("carol", "10.0.0.1"))
    fail(throttle, "carol", "10.0.0.1")  # one failure left from before is gone with the success
    clock.now += 1
    assert isinstance(throttle.attempt("carol", "10.0.0.1"), Attempt)
    # the address has counted 3 failures (not the successful attempt); it allows 2 x 4
    for index in range(2 * ADDRESS_ALLOWANCE - 3):
        fail(throttle, f"user{index}", "10.0.0.1")
    assert throttle.attempt("dave", "10.0.0.1") > 0
    assert isinstance(throttle.attempt("dave", "10.0.0.2"), Attempt)


def test_throttle_parallel_guesses_get_no_more_than_the_allowed_tries():
    throttle = LoginThrottle(5, 600)
    start = threading.Barrier(40)
    let_through = []

    def guess():
        start.wait()
        let_through.append(isinstance(throttle.attempt("erin", "10.0.0.1"), Attempt))

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(let_through) == 5


def test_throttle_forgets_expired_keys_and_keeps_keys_small():
    clock = Clock()
    throttle = LoginThrottle(5, 60, clock)
    for index in range(300):
        fail(throttle, f"made-up-{index}-" + "x" * 10_000, f"10.0.{index // 250}.{index % 250}")
    assert throttle.tracked_keys() == 600
    assert max(len(key) for key in throttle._failures) < 100
    clock.now += 61
    for index in range(300):
        throttle.attempt("frank", "10.9.9.9")
    assert throttle.tracked_keys() <= 2


def test_throttle_off_when_no_failures_are_allowed():
    throttle = LoginThrottle(0, 600)
    assert all(isinstance(throttle.attempt("gina", "10.0.0.1"), Attempt) for _ in range(50))
