"""A task the security suite sends to a real worker to see what its database connection sees."""

import os

from celery import shared_task
from django.db import connection

from tenants.tasks import TenantTask


@shared_task(base=TenantTask, ignore_result=False, name="tests.rls_probe")
def rls_probe(*, organization_id):
    with connection.cursor() as cursor:
        cursor.execute("select organization_id::text from tenants_agent order by 1")
        rows = [row[0] for row in cursor.fetchall()]
    return {"pid": os.getpid(), "backend_pid": connection.connection.info.backend_pid, "organizations": rows}
