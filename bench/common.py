"""What the benchmarks share: a database of their own on the same server."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path


def use_bench_database(*, sized: bool = False) -> None:
    """Call before django.setup(): the benchmarks neither see nor disturb other data. ``sized``: the
    benchmarks of bench/inbox_data.py's organization keep each BENCH_SIZE in a database of its own
    (softphone_bench for "1m", softphone_bench_10m for "10m"), so both stay generated."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "softphone.settings")
    name = "softphone_bench"
    if sized:
        from bench.inbox_data import bench_size

        if bench_size() != "1m":
            name = f"softphone_bench_{bench_size()}"
    os.environ.setdefault("DATABASE_NAME", name)


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


def _delta(before: list[int], after: list[int]) -> list[int]:
    return [b - a for a, b in zip(before, after, strict=True)]


def stolen(before: list[int], after: list[int]) -> float:
    """The share of CPU time the hypervisor gave to other guests between two readings."""
    delta = _delta(before, after)
    return delta[7] / max(1, sum(delta))


def percentile(values: list[float], p: float) -> float:
    """The value below which a share `p` of `values` lies (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def start_web_server(*, port: int, env: dict, workers: int, threads: int) -> subprocess.Popen:
    """The production web server (softphone.launcher.web_command) on `port`, once it answers
    /bench/bare (bench/bench_urls.py)."""
    from django.conf import settings

    from softphone.launcher import web_command

    command = web_command(host="127.0.0.1", port=port, workers=workers, threads=threads, access_log=False)
    server = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare", timeout=1):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("the web server did not start")


def busy(before: list[int], after: list[int]) -> float:
    """The share of CPU time spent working (not idle, not waiting for I/O) between two readings."""
    delta = _delta(before, after)
    return 1 - (delta[3] + delta[4]) / max(1, sum(delta))


def wait_until_quiet(*, threshold: float = 0.10, timeout: float = 60.0) -> float:
    """Wait until the machine is idle (below `threshold` busy over half a second) and no autovacuum
    runs, so that what the last measure left behind (vacuum, checkpoint writes, a process winding
    down) is not charged to the next one. Returns the seconds waited."""
    from django.db import connection

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_times()
        time.sleep(0.5)
        with connection.cursor() as cursor:
            cursor.execute("select count(*) from pg_stat_activity where backend_type = 'autovacuum worker'")
            vacuuming = cursor.fetchone()[0]
        if busy(before, cpu_times()) < threshold and not vacuuming:
            break
    return time.monotonic() - started


class DiskFlushProbe:
    """Times a small write + fdatasync every few milliseconds on the database's disk, in a thread,
    while a measure runs. A commit cannot be faster than the disk's flush, so stalls seen here
    (the storage of a virtual machine stalls for hundreds of milliseconds at times, idle or not)
    bound the latency of anything that commits; the benchmarks print them beside their figures."""

    def __init__(self, directory: str | os.PathLike, interval: float = 0.005):
        import threading

        self.path = Path(directory) / f".flush-probe-{os.getpid()}"
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (monotonic start, seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        block = b"\0" * 8192
        try:
            index = 0
            while not self._stop.is_set():
                start = time.monotonic()
                os.pwrite(fd, block, (index % 128) * 8192)
                os.fdatasync(fd)
                self.samples.append((start, time.monotonic() - start))
                index += 1
                time.sleep(self.interval)
        finally:
            os.close(fd)
            self.path.unlink(missing_ok=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def stalls(self, longer_than: float = 0.05) -> list[tuple[float, float]]:
        return [(start, seconds) for start, seconds in self.samples if seconds > longer_than]

    def summary(self) -> str:
        if not self.samples:
            return "no flushes timed"
        ms = sorted(seconds * 1000 for _, seconds in self.samples)
        stalls = self.stalls()
        return (f"{len(ms)} flushes, p50 {percentile(ms, 0.5):.2f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
                f"max {ms[-1]:.0f} ms, {len(stalls)} over 50 ms ({sum(s for _, s in stalls) * 1000:.0f} ms stalled)")


def process_cpu() -> dict[str, float]:
    """CPU seconds each kind of process has used so far (the web server's workers, PostgreSQL's backends,
    Redis, this process), read from /proc: the difference of two readings says where a stretch of
    work went. Processes that exit in between are not counted."""
    kinds: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(entry) == os.getpid():
            kind = "benchmark client"
        elif "granian" in command:
            kind = "web server"
        elif "postgres" in command:
            kind = "postgresql"
        elif "redis-server" in command:
            kind = "redis"
        else:
            continue
        kinds[kind] = kinds.get(kind, 0.0) + seconds
    return kinds


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {kind: after.get(kind, 0.0) - before.get(kind, 0.0) for kind in after}


def cpu_model() -> str:
    """The machine's CPU model, as /proc/cpuinfo names it."""
    with open("/proc/cpuinfo") as info:
        return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "unknown CPU")
