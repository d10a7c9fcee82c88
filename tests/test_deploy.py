"""A real Prefect server, a process work pool, the nightly deployment and a worker restarted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import httpx
from pipeline.store import document_rows, ledger
import pytest

from flows.server import api_healthy
from tests.conftest import (
    REPO,
    SEED_ARTICLE,
    cron_half_a_day_ahead,
    first_cron_run_utc,
    run_deployment_and_wait,
    stop_process,
    wait_for,
)
from tests.http_server import unused_port

pytestmark = pytest.mark.slow


def test_deploy_schedule_and_deployment_survive_a_worker_restart(tmp_path):
    (tmp_path / "kcna.json").write_text(json.dumps([
        {"topic": "Top News", "headline": "Farm inspected", "link": "http://kcna.example/a",
         "date": 1717200000000, "date_str": "2024-06-01",
         "story_text": "Pyongyang, June 1 (KCNA) -- Kim Jong Un inspected a farm in Kangdong County."}]))
    (tmp_path / "sources.toml").write_text(
        f'[[source]]\nurl = "{SEED_ARTICLE}"\nkind = "article"\n\n[[source]]\nurl = "kcna.json"\nkind = "kcna"\n')
    config = tmp_path / "config.toml"
    cron, utc_hour_minute = cron_half_a_day_ahead("Asia/Seoul")
    config.write_text('[paths]\ndefault_sources = "sources.toml"\n'
                      f'[schedule]\ncron = "{cron}"\ntimezone = "Asia/Seoul"\ndeployment_name = "nightly"\n')
    port = unused_port()
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_API_URL=api, DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
               PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5",
               PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="5")
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = []

    def start(name: str, *args: str) -> subprocess.Popen:
        with open(logs / f"{name}.log", "ab") as log:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen([sys.executable, *args], env=env, cwd=tmp_path,
                                       stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    try:
        start("server", "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
              "--no-ui", "--analytics-off")
        wait_for(lambda: api_healthy(api), 180, "the Prefect server")
        deployed = subprocess.run([sys.executable, "-m", "nkpipe.cli", "--config", str(config), "deploy",
                                   "--pool", "nk-test"], env=env, cwd=REPO, capture_output=True, text=True, check=False)
        assert deployed.returncode == 0, deployed.stderr
        assert "deployed nightly_ingest/nightly to pool 'nk-test'" in deployed.stdout
        deployment = httpx.get(f"{api}/deployments/name/nightly_ingest/nightly", timeout=10).json()
        # the store URL is not frozen in the deployment: each run reads config.toml (or $NKPIPE_DB)
        assert deployment["parameters"] == {"config_path": str(config), "db_url": None}
        first_cron_run = first_cron_run_utc(api)  # the cron read in Seoul's time
        assert (first_cron_run.hour, first_cron_run.minute) == utc_hour_minute
        assert first_cron_run > datetime.now(UTC)

        worker = start("worker-1", "-m", "prefect", "worker", "start", "--pool", "nk-test", "--type", "process")
        first = run_deployment_and_wait(api, deployment["id"], 300)
        assert first["type"] == "COMPLETED", (logs / "worker-1.log").read_text()[-3000:]
        worker.terminate()
        stop_process(worker, 30)

        again = httpx.get(f"{api}/deployments/name/nightly_ingest/nightly", timeout=10).json()
        assert again["id"] == deployment["id"] and again["work_pool_name"] == "nk-test"
        [schedule] = again["schedules"]
        assert (schedule["schedule"]["cron"], schedule["schedule"]["timezone"]) == (cron, "Asia/Seoul")
        assert schedule["active"]

        start("worker-2", "-m", "prefect", "worker", "start", "--pool", "nk-test", "--type", "process")
        second = run_deployment_and_wait(api, deployment["id"], 300)
        assert second["type"] == "COMPLETED", (logs / "worker-2.log").read_text()[-3000:]
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            stop_process(process, 30)

    from pipeline.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'data/nkpipe.db'}")
    assert document_rows.count_documents(store) == 2
    assert [r["status"] for r in ledger.recent_runs(store)] == ["completed", "completed"]


def test_deploy_run_server_stop_without_a_server_says_so_and_succeeds(tmp_path):
    stop = subprocess.run(["bash", str(REPO / "deploy" / "run-server.sh"), "stop"], capture_output=True, text=True,
                          env=dict(os.environ, PREFECT_HOME=str(tmp_path)), timeout=30, check=False)
    assert stop.returncode == 0, stop.stderr
    assert "no Prefect server started by this script to stop" in stop.stdout
