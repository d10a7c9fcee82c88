"""Politeness towards the sites nkpipe reads: robots.txt, a pause between requests to one host.

One ``Courtesy`` per process (``COURTESY``): it remembers each host's robots.txt for a day and
when the host was last asked, so that every fetch of a run, in whichever thread, keeps the
host's pace: at least ``[fetch] per_host_delay_s`` between two requests, or the site's
Crawl-delay when that is longer, and never two requests to one host at once.
"""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipeline.config import FetchConfig
from pipeline.errors import RejectedContent, TransientError

ROBOTS_TTL_S = 24 * 3600.0
ROBOTS_RETRY_S = 60.0  # an unreachable robots.txt is asked again after this long, not for every queued article
MAX_CRAWL_DELAY_S = 60.0  # a robots.txt asking for more is held to this, or one article a night would be all


@dataclass
class _Host:
    lock: threading.Lock
    last_request: float = float("-inf")
    robots: urllib.robotparser.RobotFileParser | None = None
    robots_read_at: float = float("-inf")
    robots_failure: str | None = None
    robots_failed_at: float = float("-inf")


RobotsFetcher = Callable[[str], "str | None"]  # robots.txt URL -> its text, None when the site has none


class Courtesy:
    """Per-host pacing and robots.txt answers, shared by the threads of one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._hosts: dict[str, _Host] = {}
        self._guard = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def _host(self, key: str) -> _Host:
        with self._guard:
            return self._hosts.setdefault(key, _Host(threading.Lock()))

    def request(self, url: str, config: FetchConfig, read_robots: RobotsFetcher, do: Callable[[], object]):
        """``do()`` (one request to ``url``'s host) once robots.txt allows it and the host's pause is over.

        Raises ``RejectedContent`` when robots.txt forbids the path to nkpipe.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return do()
        key = f"{parts.scheme}://{parts.netloc}"
        host = self._host(parts.netloc)  # http and https of one host share its pace
        with host.lock:  # one request at a time per host, in order of arrival
            robots = self._robots(host, key, config, read_robots) if config.robots_txt else None
            if robots is not None and not robots.can_fetch(_agent_token(config), url):
                raise RejectedContent(f"{key}/robots.txt forbids {parts.path or '/'} to nkpipe; not fetched")
            self._wait(host, _delay(config, robots))
            try:
                return do()
            finally:
                host.last_request = self._clock()

    def _robots(self, host: _Host, key: str, config: FetchConfig,
                read_robots: RobotsFetcher) -> urllib.robotparser.RobotFileParser:
        if host.robots is not None and self._clock() - host.robots_read_at < ROBOTS_TTL_S:
            return host.robots
        if host.robots_failure and self._clock() - host.robots_failed_at < ROBOTS_RETRY_S:
            raise TransientError(host.robots_failure)  # not asked again for every queued article
        self._wait(host, config.per_host_delay_s)
        try:
            text = read_robots(f"{key}/robots.txt")
        except TransientError as exc:  # RFC 9309: an unreachable robots.txt means "do not crawl", for now
            host.robots_failure = f"{key}/robots.txt could not be read ({exc}); the host is left for the next run"
            host.robots_failed_at = self._clock()
            raise TransientError(host.robots_failure) from exc
        finally:
            host.last_request = self._clock()
        parser = urllib.robotparser.RobotFileParser()
        parser.parse((text or "").splitlines())
        host.robots, host.robots_read_at = parser, self._clock()
        return parser

    def _wait(self, host: _Host, delay: float) -> None:
        remaining = host.last_request + delay - self._clock()
        if remaining > 0:
            self._sleep(remaining)

    def forget(self) -> None:
        """Forget every host (tests; a long-lived worker after a robots.txt change)."""
        with self._guard:
            self._hosts.clear()


def _agent_token(config: FetchConfig) -> str:
    return config.user_agent.split("/")[0].strip() or "nkpipe"


def _delay(config: FetchConfig, robots: urllib.robotparser.RobotFileParser | None) -> float:
    crawl_delay = robots.crawl_delay(_agent_token(config)) if robots is not None else None
    return max(config.per_host_delay_s, min(float(crawl_delay or 0.0), MAX_CRAWL_DELAY_S))


COURTESY = Courtesy()
