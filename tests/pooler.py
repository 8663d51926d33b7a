"""A real PgBouncer in front of the test database, started and stopped by a test.

`make test` installs Debian's pgbouncer when it is missing (the Makefile's `pooler` target), as it
does chromium for the browser tests. PgBouncer refuses to run as root: as root it is started as the
owner of the database's socket directory (or as nobody for a database reached over TCP).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection, connections

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as(host: str) -> str | None:
    if os.geteuid() != 0:
        return None
    if host.startswith("/"):
        return pwd.getpwuid(os.stat(host).st_uid).pw_name
    return "nobody"


class PgBouncer:
    def __init__(self, *, pool_mode: str, pool_size: int, reset_query: str = "DISCARD ALL"):
        if not os.access(PGBOUNCER, os.X_OK):
            raise RuntimeError(
                f"{PGBOUNCER} is missing: `make test` installs it (Debian's pgbouncer package); "
                "by hand: apt-get install pgbouncer"
            )
        # Its own directory under the system's temporary one, which the user it runs as can reach.
        self.directory = directory = Path(tempfile.mkdtemp(prefix="softphone-pgbouncer-"))
        self.port = _free_port()
        database = connection.settings_dict
        host = database["HOST"] or "/var/run/postgresql"
        server = f"host={host} port={database['PORT'] or 5432}"
        if database.get("PASSWORD"):
            server += f" password={database['PASSWORD']}"
        (directory / "users.txt").write_text(f'"{database["USER"]}" ""\n')
        self.log = directory / "pgbouncer.log"
        (directory / "pgbouncer.ini").write_text(
            "\n".join([
                "[databases]",
                f"* = {server}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {self.port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {directory / 'users.txt'}",
                f"pool_mode = {pool_mode}",
                f"default_pool_size = {pool_size}",
                "max_client_conn = 200",
                f"server_reset_query = {reset_query}",
                "ignore_startup_parameters = extra_float_digits,options",
                f"logfile = {self.log}",
                "",
            ])
        )
        user = _run_as(host)
        if user:
            shutil.chown(directory, user)
            for path in directory.iterdir():
                shutil.chown(path, user)
        command = [PGBOUNCER, *(["-u", user] if user else []), str(directory / "pgbouncer.ini")]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    output = self.output()
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start: {output}") from None
                time.sleep(0.05)

    def output(self) -> str:
        printed = self.process.stdout.read().decode(errors="replace") if self.process.poll() is not None else ""
        log = self.log.read_text() if self.log.exists() else ""
        return (printed + log)[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def dsn(self) -> dict:
        """psycopg.connect() keywords for a client of this pooler."""
        database = connection.settings_dict
        return {"host": "127.0.0.1", "port": self.port, "dbname": database["NAME"], "user": database["USER"]}

    @contextmanager
    def default_database(self):
        """Within: threads started here reach the database through the pooler (Django builds each
        thread's connection from these settings); the calling thread's own connection is unchanged."""
        before = connections.settings["default"]
        connections.settings["default"] = {**connection.settings_dict, "HOST": "127.0.0.1",
                                           "PORT": str(self.port), "CONN_MAX_AGE": 0}
        try:
            yield
        finally:
            connections.settings["default"] = before
