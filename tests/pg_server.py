"""A throwaway PostgreSQL server for tests and benchmarks.

``NKPIPE_TEST_PG_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5433/postgres``,
set by ``.ci/run``) points at a running server; without it, ``throwaway_server`` starts one
from the installed server binaries with its data directory in a temporary folder, listening
on 127.0.0.1 only. PostgreSQL refuses to run as root, so as root it runs as the ``postgres``
system user. Every test database is created apart (``fresh_database``) and dropped after.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.http_server import unused_port

PG_URL_ENV = "NKPIPE_TEST_PG_URL"
REQUIRE_PG_ENV = "NKPIPE_REQUIRE_PG"


def find_bin_dir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _as_user_prefix() -> tuple[list[str], str]:
    """(command prefix, user name): as root, run the server as ``postgres``."""
    if os.geteuid() != 0:
        return [], pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise RuntimeError("running as root and no 'postgres' system user to run PostgreSQL as") from exc
    return ["runuser", "-u", "postgres", "--"], "postgres"


@dataclass
class PgServer:
    """A running throwaway server: its URL, and stop/start for fault tests."""

    url: str
    pg_ctl: list[str]
    data: Path
    log: Path
    options: str

    def stop(self) -> None:
        subprocess.run([*self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                       check=True, capture_output=True)

    def start(self) -> None:
        subprocess.run([*self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", self.options,
                        "-w", "-t", "60", "start"], check=True, capture_output=True)


@contextlib.contextmanager
def throwaway_server(bin_dir: Path | None = None, durable: bool = False) -> Iterator[PgServer]:
    """Start a PostgreSQL server in a temp folder; yield it (``.url``: its ``postgres`` database).

    Not ``durable``, commits return before their WAL is written (fast, and a stopped server
    may lose the last ones); ``durable`` for tests that stop the server mid-run.
    """
    bin_dir = bin_dir or find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found")
    prefix, user = _as_user_prefix()
    root = Path(tempfile.mkdtemp(prefix="nkpipe-pg-"))
    try:  # from here on, a failure (initdb, a start that never answers) still removes the folder
        server = _init_server(bin_dir, prefix, user, root, durable)
        try:
            server.start()
        except subprocess.CalledProcessError as exc:
            log = server.log.read_text(errors="replace")[-2000:] if server.log.exists() else ""
            raise RuntimeError(f"the throwaway PostgreSQL server did not start; its log ends:\n{log}") from exc
        yield server
    finally:
        if (root / "data" / "postmaster.pid").exists():
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w",
                            "stop"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _init_server(bin_dir: Path, prefix: list[str], user: str, root: Path, durable: bool) -> PgServer:
    """initdb a data folder in ``root``; the server, not started yet."""
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if prefix:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = unused_port()
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
                    "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    return PgServer(f"postgresql+psycopg://{user}@127.0.0.1:{port}/postgres",
                    [*prefix, str(bin_dir / "pg_ctl")], data, root / "server.log", options)


def _admin_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """CREATE a new database on the server; yield its URL; DROP it (forcing connections off) after."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"nk_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(_admin_url(server_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        for _ in range(3):
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except sa.exc.OperationalError:  # the server is restarting (fault tests)
                time.sleep(1)
        admin.dispose()
