"""Benchmark: import 10,000 numbers (100 pages of 100) from a Twilio fake served over HTTP.

Measures the import end to end (listing every page, creating the rows, pointing each number's
webhooks at us), peak and sampled memory of this process, then a second run that must create
nothing. Run with `make bench` (or `.venv/bin/python -m bench.bench_number_import`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import django

from bench.common import prepare_database, use_bench_database  # noqa: E402

use_bench_database()
django.setup()

import psutil  # noqa: E402
from django.conf import settings  # noqa: E402

from softphone import celery_app  # noqa: E402
from telephony.models import PhoneNumber, Provider  # noqa: E402
from telephony.services import accounts, importing  # noqa: E402
from tenants import services as tenant_services  # noqa: E402
from tenants.models import Job, Organization  # noqa: E402
from tenants.scoping import platform_scope, tenant_scope  # noqa: E402

COUNT = int(os.environ.get("BENCH_NUMBERS", "10000"))
SID = "AC" + "f" * 32
TOKEN = "bench-token"


class MemorySampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.process = psutil.Process()
        self.samples: list[int] = []
        self.running = True

    def run(self):
        while self.running:
            self.samples.append(self.process.memory_info().rss)
            time.sleep(0.2)


def run_import(org, owner, account) -> tuple[float, Job, MemorySampler]:
    sampler = MemorySampler()
    sampler.start()
    started = time.perf_counter()
    with tenant_scope(org):
        # The real path: the service queues the import task after commit; the task runs it.
        job = importing.phone_number_import_start(organization=org, actor=owner, account=account, numbers="all")
        job = Job.objects.get(pk=job.pk)
    elapsed = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    return elapsed, job, sampler


def mib(value: int) -> str:
    return f"{value / 2**20:.0f} MiB"


def main() -> int:
    prepare_database()
    server = subprocess.Popen([sys.executable, "-m", "bench.fake_twilio_server", SID, TOKEN, str(COUNT)],
                              stdout=subprocess.PIPE, text=True, cwd=settings.BASE_DIR)
    base_url = server.stdout.readline().strip()
    settings.TWILIO_API_BASE_URL = base_url
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.get_or_create(username="bench-owner", defaults={"email": "bench@example.com"})[0]
    with platform_scope():  # deleting an organization crosses every tenant table
        Organization.objects.filter(slug="bench").delete()
    org = tenant_services.organization_create(name="Benchmark", slug="bench", owner=owner)
    try:
        with tenant_scope(org):
            account = accounts.provider_account_connect(organization=org, actor=owner, provider=Provider.TWILIO,
                                                        account_sid=SID, auth_token=TOKEN)
        # Tasks run in this process (no broker round trip), so the measurement is the job itself.
        celery_app.conf.task_always_eager = True
        first, job1, mem1 = run_import(org, owner, account)
        with tenant_scope(org):
            stored = PhoneNumber.objects.count()
        second, job2, mem2 = run_import(org, owner, account)
        deciles = [mem1.samples[int(i * (len(mem1.samples) - 1) / 10)] for i in range(11)]
        print(f"numbers: {COUNT}, pages of 100: {COUNT // 100}, concurrency: {settings.NUMBER_IMPORT_CONCURRENCY}")
        print(f"first run:  {first:.1f} s, created {job1.created_count}, configured {job1.done}/{job1.total}, "
              f"errors {len(job1.errors)}, rows {stored}")
        print(f"second run: {second:.1f} s, created {job2.created_count}, errors {len(job2.errors)}")
        print(f"memory (RSS) first run: start {mib(mem1.samples[0])}, peak {mib(max(mem1.samples))}, "
              f"by decile {' '.join(mib(v) for v in deciles)}")
        print(f"memory (RSS) second run: peak {mib(max(mem2.samples))}")
        ok = first < 60 and job1.created_count == COUNT and job2.created_count == 0 and stored == COUNT
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        server.kill()
        with platform_scope():
            org.delete()


if __name__ == "__main__":
    sys.exit(main())
