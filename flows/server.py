"""A local Prefect server for the schedule.

Prefect's temporary (ephemeral) server runs flows but not the scheduler, so
a served deployment would never fire. ``nkpipe schedule`` therefore starts a
real ``prefect server`` on 127.0.0.1 with its state under the data directory,
unless PREFECT_API_URL already points at one.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from pipeline.errors import NkpipeError

PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def api_healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def local_prefect_server(port: int, log_file: Path, startup_timeout_s: float = 120) -> Iterator[str]:
    """Start ``prefect server start`` on 127.0.0.1:port; yield its API URL; stop it on exit."""
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        yield existing
        return
    api_url = f"http://127.0.0.1:{port}/api"
    if api_healthy(api_url):
        raise NkpipeError(f"port {port} already serves an API; stop it or set [schedule] server_port")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port), "--no-ui", "--analytics-off"],
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )
    try:
        _wait_until_healthy(process, api_url, startup_timeout_s, log_file)
        os.environ["PREFECT_API_URL"] = api_url
        yield api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        if process.poll() is None:
            process.kill()


@contextlib.contextmanager
def temporary_prefect_server(log_file: Path, startup_timeout_s: float = 120) -> Iterator[str]:
    """Prefect's temporary server for one process (``nkpipe run``), which dies with that process.

    Prefect starts the same server by itself when no API is set, but a parent killed with
    kill -9 leaves it running; this one is started with the kernel's parent-death signal, so it
    stops with its parent however the parent ends. Yields the API URL (also set in
    PREFECT_API_URL). An API already set in PREFECT_API_URL is used instead.
    """
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        yield existing
        return
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                   "PREFECT__SERVER_FINAL": "1"}
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"],
            stdout=log, stderr=subprocess.STDOUT, env=environment, preexec_fn=_die_with_parent)
    try:
        _wait_until_healthy(process, api_url, startup_timeout_s, log_file)
        os.environ["PREFECT_API_URL"] = api_url
        yield api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the parent dies (no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(process: subprocess.Popen, api_url: str, timeout_s: float, log_file: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NkpipeError(f"the Prefect server exited with code {process.returncode}; see {log_file}")
        if api_healthy(api_url):
            return
        time.sleep(0.5)
    process.terminate()
    raise NkpipeError(f"the Prefect server did not start within {timeout_s:.0f} s; see {log_file}")


def first_scheduled_run(api_url: str, flow_name: str, deployment_name: str) -> datetime | None:
    """When the server's scheduler next runs the deployment; None while it has made no run for it."""
    try:
        deployment = httpx.get(f"{api_url}/deployments/name/{flow_name}/{deployment_name}", timeout=5)
        if deployment.status_code == 404:
            return None
        runs = httpx.post(f"{api_url}/flow_runs/filter", timeout=5, json={
            "deployments": {"id": {"any_": [deployment.raise_for_status().json()["id"]]}},
            "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
            "sort": "EXPECTED_START_TIME_ASC", "limit": 1,
        }).raise_for_status().json()
    except httpx.HTTPError:
        return None
    return datetime.fromisoformat(runs[0]["expected_start_time"]) if runs else None


def announce_next_run(api_url: str, flow_name: str, deployment_name: str, zone: str, log_file: Path,
                      say: Callable[[str], None], timeout_s: float = 120, poll_s: float = 2) -> None:
    """Say when the first scheduled run is, or warn when the server schedules none.

    A server whose scheduler fails (as Prefect 3.8's did under SQLAlchemy 2.1) still serves
    the deployment and answers every call, so without this nothing would show that the
    cron never fires.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        when = first_scheduled_run(api_url, flow_name, deployment_name)
        if when is not None:
            local = when.astimezone(ZoneInfo(zone))
            say(f"next scheduled run: {local:%Y-%m-%d %H:%M} {zone} ({when.astimezone(UTC):%H:%M} UTC)")
            return
        time.sleep(poll_s)
    say(f"warning: after {timeout_s:.0f} s the Prefect server has scheduled no run of deployment "
        f"{flow_name}/{deployment_name}, so the cron would never fire; see {log_file}")
