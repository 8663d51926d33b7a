"""Tasks the tests send to a real worker: what its database connection sees, and bulk work that
takes a while."""

import os
import time

from celery import shared_task
from django.db import connection

from tenants.tasks import TenantTask


@shared_task(base=TenantTask, ignore_result=False, name="tests.rls_probe")
def rls_probe(*, organization_id):
    with connection.cursor() as cursor:
        cursor.execute("select organization_id::text from tenants_agent order by 1")
        rows = [row[0] for row in cursor.fetchall()]
    return {"pid": os.getpid(), "backend_pid": connection.connection.info.backend_pid, "organizations": rows}


@shared_task(name="tests.slow")
def slow(*, seconds: float):
    """No route names it: it goes to the default queue, as any task nobody routed would."""
    time.sleep(seconds)
