"""Failed sign-ins are counted per account name and per address; a full count refuses for the window."""

from pipeline.web.throttle import ADDRESS_ALLOWANCE, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_refuses_a_name_after_its_failures_until_the_window_passes():
    clock = Clock()
    throttle = LoginThrottle(3, 600, clock)
    for _ in range(2):
        throttle.failed("alice", "10.0.0.1")
        clock.now += 10
    assert throttle.seconds_to_wait("alice", "10.0.0.1") == 0
    throttle.failed("Alice ", "10.0.0.2")  # the same account, typed differently, from elsewhere
    assert throttle.seconds_to_wait("alice", "10.0.0.9") == 600 - 20
    assert throttle.seconds_to_wait("bob", "10.0.0.1") == 0
    clock.now += 600 - 20
    assert throttle.seconds_to_wait("alice", "10.0.0.1") == 0


def test_throttle_success_clears_the_name_but_not_the_address():
    clock = Clock()
    throttle = LoginThrottle(2, 600, clock)
    for name in ("carol", "carol"):
        throttle.failed(name, "10.0.0.1")
    throttle.succeeded("carol")
    assert throttle.seconds_to_wait("carol", "10.0.0.1") == 0
    for index in range(2 * ADDRESS_ALLOWANCE - 2):
        throttle.failed(f"user{index}", "10.0.0.1")
    assert throttle.seconds_to_wait("dave", "10.0.0.1") > 0
    assert throttle.seconds_to_wait("dave", "10.0.0.2") == 0


def test_throttle_off_when_no_failures_are_allowed():
    throttle = LoginThrottle(0, 600)
    for _ in range(50):
        throttle.failed("erin", "10.0.0.1")
    assert throttle.seconds_to_wait("erin", "10.0.0.1") == 0
