"""A real worker process runs a task for A, then one for B, on the same database connection."""

import pytest
from celery import states

from softphone import celery_app
from tests import factories


@pytest.mark.worker
def test_tasks_for_two_tenants_in_one_worker_see_only_their_own_rows(live_worker, org, owner, other_org, outsider):
    factories.build_world(org, owner)
    factories.build_world(other_org, outsider)

    def probe(organization_id):
        result = celery_app.send_task("tests.rls_probe", kwargs={"organization_id": organization_id})
        return result

    first = probe(str(org.pk)).get(timeout=30)
    second = probe(str(other_org.pk)).get(timeout=30)
    assert first["organizations"] == [str(org.pk)]
    assert second["organizations"] == [str(other_org.pk)]
    assert first["pid"] == second["pid"]
    assert first["backend_pid"] == second["backend_pid"]  # the same persistent connection

    missing = probe(None)
    with pytest.raises(Exception) as excinfo:
        missing.get(timeout=30)
    assert missing.state == states.FAILURE
    assert "TenantMissing" in type(excinfo.value).__name__ or "TenantMissing" in str(missing.traceback)
