"""A throwaway PostgreSQL server for the tests: Debian's ``postgresql`` package in a temporary cluster.

``Postgres()`` runs ``initdb`` into a fresh directory and ``pg_ctl start`` on a free loopback port
(TCP on 127.0.0.1 only, its socket inside the cluster's directory, ``trust`` authentication for
the ``postgres`` user). PostgreSQL refuses to run as root, so as root every command runs as the
``postgres`` user (``runuser -u postgres --``) and the directory is made for that user outside
pytest's root-only temp tree. ``stop``/``start`` stop and restart the same cluster on the same port
(a database that went away and came back); ``close`` stops it and removes the directory.

The ``postgres`` fixture skips, with the reason, where the package is not installed
(``apt-get install -y postgresql``) or the server cannot be started.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT_S = 60
INSTALL_HINT = "PostgreSQL is not installed (apt-get install -y postgresql)"


def pg_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl."""
    found = [
        Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb") if Path(p).with_name("pg_ctl").exists()
    ]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, default=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    def __init__(self, dbname: str = "hub_test") -> None:
        bin_dir = pg_bin()
        if bin_dir is None:
            raise FileNotFoundError(INSTALL_HINT)
        self.bin, self.port, self.dbname = bin_dir, free_port(), dbname
        self.as_root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="hipcam-pg-"))
        self.data, self.log = self.base / "data", self.base / "server.log"
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        try:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
            self.start()
            self._create_database()
        except BaseException:
            self.close()
            raise

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.dbname}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.dbname}"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False,
                              cwd=self.base)  # fmt: skip
        if proc.returncode != 0:
            tail = self.log.read_text()[-1500:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({proc.returncode}): {proc.stderr.strip()[-1500:]}\n{tail}")

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.base} -c fsync=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t",
                  str(START_TIMEOUT_S), "start")  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not listen on port {self.port}")

    def stop(self) -> None:
        """Stop the server at once (``-m immediate``: open connections are cut, as in a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    """A running PostgreSQL with an empty database ``hub_test``, removed after the test."""
    if pg_bin() is None:
        pytest.skip(INSTALL_HINT)
    try:
        server = Postgres()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"PostgreSQL could not be started here: {exc}")
    try:
        yield server
    finally:
        server.close()
