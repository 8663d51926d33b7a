"""What the benchmarks share: a database of their own on the same server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def use_bench_database() -> None:
    """Call before django.setup(): the benchmarks neither see nor disturb other data."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "softphone.settings")
    os.environ.setdefault("DATABASE_NAME", "softphone_bench")


def prepare_database() -> None:
    """Create the benchmark database if needed and migrate it."""
    import psycopg
    from django.core.management import call_command
    from django.db import connection

    params = connection.get_connection_params()
    name = params.pop("dbname")
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as admin:
        if not admin.execute("select 1 from pg_database where datname = %s", [name]).fetchone():
            admin.execute(f'create database "{name}"')
    call_command("migrate", verbosity=0)


def cpu_times() -> list[int]:
    """The machine's CPU counters (user, nice, system, idle, iowait, irq, softirq, steal)."""
    with open("/proc/stat") as stat:
        return [int(x) for x in stat.readline().split()[1:9]]


def stolen(before: list[int], after: list[int]) -> float:
    """The share of CPU time the hypervisor gave to other guests between two readings."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
    return delta[7] / max(1, sum(delta))


def percentile(values: list[float], p: float) -> float:
    """The value below which a share `p` of `values` lies (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def start_gunicorn(*, port: int, env: dict, workers: int, threads: int) -> subprocess.Popen:
    """The production server (softphone.wsgi under gunicorn) on `port`, once it answers /bench/bare
    (bench/bench_urls.py)."""
    from django.conf import settings

    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "softphone.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--log-level", "warning"],
        cwd=settings.BASE_DIR, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare", timeout=1):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("gunicorn did not start")
