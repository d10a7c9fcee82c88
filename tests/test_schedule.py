"""`nkpipe schedule` serves a deployment that a real local Prefect server runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from pipeline.store import open_store
from tests.conftest import SEED_BRIEF, wait_for
from tests.http_server import unused_port

pytestmark = pytest.mark.slow


def test_schedule_serves_the_nightly_deployment_with_its_cron(tmp_path):
    port = unused_port()
    (tmp_path / "sources.toml").write_text(f'[[source]]\nurl = "{SEED_BRIEF}"\nkind = "brief"\n')
    (tmp_path / "config.toml").write_text(
        '[paths]\ndefault_sources = "sources.toml"\n'
        f'[schedule]\ncron = "45 3 * * *"\ntimezone = "Asia/Seoul"\nserver_port = {port}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--config", str(tmp_path / "config.toml"), "schedule"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
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
        assert schedule["active"] and schedule["schedule"]["cron"] == "45 3 * * *"
        assert schedule["schedule"]["timezone"] == "Asia/Seoul"

        httpx.post(f"{api}/deployments/{served['id']}/create_flow_run", json={}, timeout=10)
        store = open_store("sqlite:///data/nkpipe.db", tmp_path)
        run = wait_for(lambda: [r for r in store.recent_runs() if r["status"] != "running"], 150,
                       "the triggered run to finish")[0]
        assert (run["flow_name"], run["status"], run["new"]) == ("nightly_ingest", "completed", 1)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    assert process.returncode is not None
