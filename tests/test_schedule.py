"""`nkpipe schedule` serves a deployment that a real local Prefect server runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime

import httpx
from pipeline.store import ledger
import pytest

from pipeline.store import open_store
from tests.conftest import (
    SEED_BRIEF,
    cron_half_a_day_ahead,
    first_cron_run_utc,
    run_deployment_and_wait,
    stop_process,
    wait_for,
)
from tests.http_server import unused_port


def _tail(path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def test_schedule_announces_the_first_scheduled_run_in_the_schedules_zone(monkeypatch, tmp_path):
    import flows.server

    monkeypatch.setattr(flows.server, "first_scheduled_run",
                        lambda *args: datetime(2026, 11, 27, 18, 45, tzinfo=UTC))
    said = []
    flows.server.announce_next_run("http://127.0.0.1:9/api", "nightly_ingest", "nightly", "Asia/Seoul",
                                   tmp_path / "server.log", said.append, timeout_s=5, poll_s=0.1)
    assert said == ["next scheduled run: 2026-11-28 03:45 Asia/Seoul (18:45 UTC)"]


def test_schedule_warns_when_the_server_schedules_no_run(tmp_path):
    from flows.server import announce_next_run

    said = []
    api = f"http://127.0.0.1:{unused_port()}/api"  # nothing listens: no run is ever scheduled
    announce_next_run(api, "nightly_ingest", "nightly", "Asia/Seoul", tmp_path / "server.log", said.append,
                      timeout_s=0.5, poll_s=0.1)
    assert len(said) == 1 and said[0].startswith("warning: after 0 s the Prefect server has scheduled no run")
    assert "nightly_ingest/nightly" in said[0] and str(tmp_path / "server.log") in said[0]


@pytest.mark.slow
def test_schedule_serves_the_nightly_deployment_with_its_cron(tmp_path):
    port = unused_port()
    cron, utc_hour_minute = cron_half_a_day_ahead("Asia/Seoul")
    (tmp_path / "sources.toml").write_text(f'[[source]]\nurl = "{SEED_BRIEF}"\nkind = "brief"\n')
    (tmp_path / "config.toml").write_text(
        '[paths]\ndefault_sources = "sources.toml"\n'
        f'[schedule]\ncron = "{cron}"\ntimezone = "Asia/Seoul"\nserver_port = {port}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    env["PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS"] = "5"
    # The output goes to a file: a pipe nobody reads fills up and blocks the flow run mid-way.
    output = tmp_path / "schedule.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "nkpipe.cli", "--config", str(tmp_path / "config.toml"), "schedule"],
            cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )
    api = f"http://127.0.0.1:{port}/api"
    try:
        def deployment():
            try:
                found = httpx.post(f"{api}/deployments/filter", json={"limit": 10}, timeout=5).json()
            except httpx.HTTPError:
                return None
            return found[0] if found else None

        served = wait_for(deployment, 150, "the deployment to be registered")
        assert served["name"] == "nightly" and not served["paused"]
        [schedule] = served["schedules"]
        assert schedule["active"] and schedule["schedule"]["cron"] == cron
        assert schedule["schedule"]["timezone"] == "Asia/Seoul"

        # The server's scheduler turns the cron, read in Seoul's time, into runs.
        first = first_cron_run_utc(api)
        assert (first.hour, first.minute) == utc_hour_minute and first > datetime.now(UTC)
        announced = wait_for(lambda: re.search(r"next scheduled run: .* Asia/Seoul \((\d\d):(\d\d) UTC\)",
                                               output.read_text()), 60, "nkpipe schedule to say the next run")
        assert (int(announced[1]), int(announced[2])) == utc_hour_minute

        assert run_deployment_and_wait(api, served["id"], 240)["type"] == "COMPLETED"
        store = open_store(f"sqlite:///{tmp_path / 'data/nkpipe.db'}")
        [run] = ledger.recent_runs(store)
        assert (run["flow_name"], run["status"], run["new"]) == ("nightly_ingest", "completed", 1)
    except Exception as error:  # any failure here is explained by the child's output
        raise AssertionError(f"{error}\n--- nkpipe schedule output ---\n{_tail(output)}\n"
                             f"--- Prefect server log ---\n{_tail(tmp_path / 'data' / 'prefect' / 'server.log')}"
                             ) from error
    finally:
        process.send_signal(signal.SIGINT)
        stop_process(process, 60)  # ending the served deployment can take long on a loaded machine
