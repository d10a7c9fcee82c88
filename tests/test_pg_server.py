"""The throwaway PostgreSQL server of the tests leaves nothing behind, even when it fails to start."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.pg_server import PgServer, find_bin_dir, throwaway_server


def test_pg_server_that_does_not_start_leaves_no_folder(monkeypatch):
    if find_bin_dir() is None:
        pytest.skip("needs the PostgreSQL server binaries")
    made = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made.append(Path(real_mkdtemp(*args, **kwargs)))
        return str(made[-1])

    def start(server):
        server.log.write_text("FATAL: could not bind IPv4 address\n")
        raise subprocess.CalledProcessError(1, "pg_ctl start")

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(PgServer, "start", start)
    with pytest.raises(RuntimeError, match="(?s)did not start.*could not bind"), throwaway_server():
        pass
    assert len(made) == 1 and not made[0].exists()
