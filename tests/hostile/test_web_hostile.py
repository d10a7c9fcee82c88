"""Finding 7 of the security review, and the temporary Prefect server of finding 9: against real servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import psutil
import pytest
import uvicorn

from nkpipe.web.app import create_app, server_config
from pipeline.config import WebConfig
from tests.http_server import unused_port


class RunningServer:
    """The review UI under uvicorn with the settings `nkpipe serve` uses, on 127.0.0.1."""

    def __init__(self, config, store):
        self.port = unused_port()
        settings = server_config(create_app(config, store), config, "127.0.0.1", self.port)
        settings.log_level = "warning"
        self.server = uvicorn.Server(settings)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


def failed_login(client: httpx.Client, base: str, name: str, forwarded_for: str | None = None) -> int:
    form = client.get(f"{base}/login")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(f"{base}/login", data={"name": name, "password": "wrong-password", "csrf_token": token},
                       headers=headers).status_code


def test_hostile_forwarded_for_does_not_choose_the_address_the_throttle_counts(web_config, review_store):
    server = RunningServer(web_config, review_store)
    try:
        with httpx.Client() as client:
            # A new name each time, so only the address allowance (4 x 5 = 20 failures) can refuse.
            answers = [failed_login(client, server.url, f"user{i}", forwarded_for=f"203.0.113.{i}") for i in range(22)]
    finally:
        server.stop()
    assert answers[:20] == [401] * 20 and answers[20:] == [429, 429]


def test_hostile_forwarded_for_is_believed_from_a_configured_proxy_only(web_config, review_store):
    trusting = replace(web_config, web=replace(web_config.web, trusted_proxies="127.0.0.1"))
    server = RunningServer(trusting, review_store)
    try:
        with httpx.Client() as client:
            answers = [failed_login(client, server.url, f"user{i}", forwarded_for=f"203.0.113.{i}") for i in range(22)]
    finally:
        server.stop()
    assert answers == [401] * 22  # each client behind the proxy has its own allowance


def test_hostile_parallel_sign_ins_check_at_most_the_configured_number_of_passwords(web_config, review_store,
                                                                                     monkeypatch):
    from pipeline import accounts

    real, running, most = accounts.authenticate, [0], [0]
    lock = threading.Lock()

    def counted(*args, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.05)
            return real(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(accounts, "authenticate", counted)
    limited = replace(web_config, web=replace(web_config.web, concurrent_password_checks=2, login_failures_allowed=0))
    server = RunningServer(limited, review_store)
    try:
        def attempt(i):
            with httpx.Client(timeout=30) as client:
                return failed_login(client, server.url, f"user{i}")

        with ThreadPoolExecutor(max_workers=40) as pool:
            answers = list(pool.map(attempt, range(40)))
    finally:
        server.stop()
    assert most[0] <= 2 and set(answers) <= {401, 503}
    assert answers.count(401) >= 2


def test_hostile_run_killed_with_kill_9_leaves_no_prefect_server(tmp_path):
    """`nkpipe run`'s temporary Prefect server dies with it; the next run marks the killed run abandoned."""
    (tmp_path / "sources.toml").write_text("")
    (tmp_path / "config.toml").write_text(f'[store]\nurl = "sqlite:///{tmp_path}/n.db"\n'
                                          f'[paths]\ndefault_sources = "{tmp_path}/sources.toml"\n'
                                          f'data_dir = "{tmp_path}/data"\n')
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    environment["PREFECT_HOME"] = str(tmp_path / "prefect")
    nkpipe = os.path.join(os.path.dirname(sys.executable), "nkpipe")
    parent = subprocess.Popen([nkpipe, "--config", str(tmp_path / "config.toml"), "run"], env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        server = None
        deadline = time.monotonic() + 120
        while server is None and time.monotonic() < deadline:
            children = psutil.Process(parent.pid).children(recursive=True)
            server = next((c for c in children if "prefect.server.api.server:create_app" in " ".join(c.cmdline())), None)
            time.sleep(0.2)
        assert server is not None, "nkpipe run started no Prefect server"
        time.sleep(1)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        assert psutil.wait_procs([server], timeout=15)[1] == [], "the Prefect server outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
