"""Assigning numbers to agents; numbers of AI agents live in VAPI too and keep texting through us."""

import threading

import pytest
from django.db import connection

from softphone.simulator.vapi import VAPI_VOICE_URL
from telephony.models import PhoneNumber, PlatformState
from telephony.services import adding, assignment
from telephony.services.webhook_contract import webhook_urls
from tenants import services as tenant_services
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests import factories
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

NUMBER = "+14155550142"


@pytest.fixture
def number(org, owner, twilio, twilio_account, run_on_commit):
    twilio.add_incoming_number(ACME_SID, NUMBER, voice_url="https://old.example.com/voice")
    with tenant_scope(org):
        return run_on_commit(adding.phone_number_add, organization=org, actor=owner, provider="twilio",
                             phone_number=NUMBER, account_sid=ACME_SID, auth_token=ACME_TOKEN)


def at_twilio(twilio):
    return twilio.find_number(ACME_SID, NUMBER)


def reload(org, number):
    with tenant_scope(org):
        return PhoneNumber.objects.get(pk=number.pk)


def assign(org, owner, number, agent, run_on_commit):
    with tenant_scope(org):
        return run_on_commit(assignment.phone_number_assign, organization=org, actor=owner, number=number, agent=agent)


@pytest.mark.django_db
def test_assigning_to_an_ai_agent_puts_the_number_on_vapi_with_sms_kept(org, owner, number, vapi, vapi_account,
                                                                        ai_agent, assistant, twilio, run_on_commit):
    assign(org, owner, number, ai_agent, run_on_commit)
    [on_vapi] = vapi.phone_numbers()
    assert on_vapi["number"] == NUMBER
    assert on_vapi["assistantId"] == assistant["id"]
    assert on_vapi["smsEnabled"] is False
    assert vapi.received_tokens == [ACME_TOKEN]  # sent to VAPI, never logged by it or us
    stored = reload(org, number)
    assert (stored.platform, stored.platform_id, stored.platform_state) == ("vapi", on_vapi["id"], "synced")
    # VAPI took the voice URL; texts still reach our inbox.
    assert at_twilio(twilio)["voice_url"] == VAPI_VOICE_URL
    assert at_twilio(twilio)["sms_url"] == webhook_urls().sms_url


@pytest.mark.django_db
def test_reassigning_to_another_ai_agent_updates_the_assistant(org, owner, number, vapi, vapi_account, ai_agent,
                                                               run_on_commit):
    assign(org, owner, number, ai_agent, run_on_commit)
    other = vapi.add_assistant(name="Day shift")
    day_bot = factories.make_agent(org, name="Day bot", kind="ai", assistant_id=other["id"])
    assign(org, owner, number, day_bot, run_on_commit)
    [on_vapi] = vapi.phone_numbers()
    assert on_vapi["assistantId"] == other["id"]
    assert [r.method for r in vapi.requests if r.path.startswith("/phone-number")][-1] == "PATCH"


@pytest.mark.django_db
@pytest.mark.parametrize("then", ["person", "nobody"])
def test_leaving_the_ai_agent_deletes_from_vapi_and_restores_our_voice_url(org, owner, number, vapi, vapi_account,
                                                                           ai_agent, agent, twilio, run_on_commit,
                                                                           then):
    assign(org, owner, number, ai_agent, run_on_commit)
    assign(org, owner, number, agent if then == "person" else None, run_on_commit)
    assert vapi.phone_numbers() == []
    assert at_twilio(twilio)["voice_url"] == webhook_urls().voice_url
    stored = reload(org, number)
    assert (stored.platform, stored.platform_id, stored.platform_state) == ("", "", "")
    with tenant_scope(org):
        verbs = list(AuditEvent.objects.filter(target_id=number.pk).values_list("verb", flat=True))
    assert "phone_number.vapi_imported" in verbs and "phone_number.vapi_removed" in verbs


@pytest.mark.django_db
def test_removing_a_number_on_vapi_deletes_it_there(owner_client, org, owner, number, vapi, vapi_account, ai_agent,
                                                    run_on_commit, django_capture_on_commit_callbacks):
    assign(org, owner, number, ai_agent, run_on_commit)
    assert len(vapi.phone_numbers()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.delete(f"/api/acme/phone-numbers/{number.pk}").status_code == 202
    assert vapi.phone_numbers() == []
    with tenant_scope(org):
        assert not PhoneNumber.objects.exists()


@pytest.mark.django_db
def test_a_vapi_outage_is_recorded_and_the_retry_heals_it(org, owner, number, vapi, vapi_account, ai_agent,
                                                          run_on_commit):
    from celery.exceptions import Retry

    from telephony.tasks import phone_number_platform_sync

    vapi.fail_next(1, status=503)
    # The task asks Celery to run it again later, and the number shows the failure meanwhile.
    with pytest.raises(Retry):
        assign(org, owner, number, ai_agent, run_on_commit)
    flagged = reload(org, number)
    assert (flagged.platform_state, flagged.platform_error) == (PlatformState.ERROR, "VAPI: Service Unavailable")
    with tenant_scope(org):
        failed = AuditEvent.objects.get(verb="phone_number.platform_sync_failed", target_id=number.pk)
    assert failed.data == {"reason": "VAPI: Service Unavailable", "will_retry": True}
    assert vapi.phone_numbers() == []

    # The retry, once VAPI is back.
    phone_number_platform_sync.apply(kwargs={"organization_id": str(org.pk), "phone_number_id": str(number.pk)},
                                     throw=True)
    assert reload(org, number).platform_state == PlatformState.SYNCED
    assert len(vapi.phone_numbers()) == 1


@pytest.mark.django_db
def test_a_permanent_vapi_refusal_stays_visible_until_someone_retries(owner_client, org, owner, number, vapi,
                                                                      vapi_account, twilio, run_on_commit,
                                                                      django_capture_on_commit_callbacks):
    ghost = factories.make_agent(org, name="Ghost bot", kind="ai", assistant_id="no-such-assistant")
    assign(org, owner, number, ghost, run_on_commit)
    stored = reload(org, number)
    assert stored.platform_state == PlatformState.ERROR
    assert "assistant" in stored.platform_error.lower()
    page = owner_client.get(f"/o/acme/numbers/{number.pk}/").content.decode()
    assert "Sync failed" in page and "Retry VAPI sync" in page
    assert vapi.phone_numbers() == []

    real = vapi.add_assistant(name="Real")
    with tenant_scope(org):
        ghost.assistant_id = real["id"]
        ghost.save()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/o/acme/numbers/{number.pk}/platform-sync/")
    assert reload(org, number).platform_state == PlatformState.SYNCED
    assert vapi.phone_numbers()[0]["assistantId"] == real["id"]


@pytest.mark.django_db
def test_ai_agents_need_a_vapi_account(owner_client, org, number, ai_agent):
    response = owner_client.patch(f"/api/acme/phone-numbers/{number.pk}", {"agentId": str(ai_agent.pk)},
                                  content_type="application/json")
    assert response.status_code == 400
    assert response.json()["agentId"] == ["Connect a VAPI account before assigning numbers to AI agents."]
    assert reload(org, number).agent_id is None


@pytest.mark.django_db
def test_a_number_of_a_client_goes_only_to_that_clients_agents(owner_client, org, number, agent_user):
    mine = factories.make_client(org, "Client A")
    theirs = factories.make_client(org, "Client B")
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=number.pk).update(client=mine)
    other_clients_agent = factories.make_agent(org, name="B's agent", kind="ai", assistant_id="x")
    with tenant_scope(org):
        other_clients_agent.client = theirs
        other_clients_agent.save()
    response = owner_client.patch(f"/api/acme/phone-numbers/{number.pk}", {"agentId": str(other_clients_agent.pk)},
                                  content_type="application/json")
    assert response.status_code == 400
    assert "another client" in response.json()["agentId"][0]



def test_a_number_of_a_client_is_not_given_to_a_person_limited_to_other_clients(owner_client, org, owner, number):
    mine = factories.make_client(org, "Client A")
    theirs = factories.make_client(org, "Client B")
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=number.pk).update(client=mine)
    user = factories.make_user("lena", first_name="Lena")
    membership = factories.add_member(org, user)
    person = factories.make_agent(org, user=user, name="Lena Limited")
    with tenant_scope(org):
        tenant_services.membership_set_clients(organization=org, actor=owner, membership=membership, limited=True,
                                               clients=[theirs])
    response = owner_client.patch(f"/api/acme/phone-numbers/{number.pk}", {"agentId": str(person.pk)},
                                  content_type="application/json")
    assert response.status_code == 400
    assert response.json()["agentId"] == [
        "Lena Limited is limited to other clients and could not see this number's conversations."]
    assert reload(org, number).agent_id is None
    with tenant_scope(org):
        tenant_services.membership_set_clients(organization=org, actor=owner, membership=membership, limited=True,
                                               clients=[mine])
    response = owner_client.patch(f"/api/acme/phone-numbers/{number.pk}", {"agentId": str(person.pk)},
                                  content_type="application/json")
    assert response.status_code == 200 and reload(org, number).agent_id == person.pk

@pytest.mark.django_db(transaction=True)
def test_two_concurrent_assignments_cannot_both_win(org, owner, twilio, twilio_account, vapi, vapi_account):
    twilio.add_incoming_number(ACME_SID, NUMBER)
    with tenant_scope(org):
        number = adding.phone_number_add(organization=org, actor=owner, provider="twilio", phone_number=NUMBER,
                                          account_sid=ACME_SID, auth_token=ACME_TOKEN)
    first = vapi.add_assistant(name="One")
    second = vapi.add_assistant(name="Two")
    bots = [factories.make_agent(org, name=f"Bot {a['name']}", kind="ai", assistant_id=a["id"]) for a in (first, second)]
    barrier = threading.Barrier(2)
    results = []

    def worker(agent):
        try:
            barrier.wait()
            with tenant_scope(org):
                after = assignment.phone_number_assign(organization=org, actor=owner, number=number, agent=agent,
                                                       only_if_unassigned=True)
            results.append(after.agent_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(bot,)) for bot in bots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = reload(org, number)
    assert final.agent_id in {bots[0].pk, bots[1].pk}
    assert results.count(final.agent_id) == 2  # the loser saw the winner's assignment, not its own
    with tenant_scope(org):
        assigned = AuditEvent.objects.filter(verb="phone_number.assigned", target_id=number.pk).count()
    assert assigned == 1


@pytest.mark.django_db
def test_no_secret_reaches_a_log_line_a_page_or_the_api(owner_client, org, owner, number, vapi, vapi_account,
                                                        ai_agent, run_on_commit, caplog):
    import logging

    from tests.vendor_fixtures import VAPI_KEY

    caplog.set_level(logging.DEBUG)
    assign(org, owner, number, ai_agent, run_on_commit)
    vapi.fail_next(1, status=500)
    with tenant_scope(org):
        from telephony.services import sync

        with pytest.raises(Exception):  # noqa: B017 - any failure will do: its message is what we check
            sync.account_sync(organization=org, account=vapi_account)
    bodies = [
        owner_client.get(url).content.decode()
        for url in ("/o/acme/numbers/", f"/o/acme/numbers/{number.pk}/", "/o/acme/numbers/accounts/",
                    "/api/acme/phone-numbers", "/api/acme/provider-accounts", f"/api/acme/phone-numbers/{number.pk}")
    ]
    for secret in (ACME_TOKEN, VAPI_KEY):
        assert secret not in caplog.text
        assert all(secret not in body for body in bodies)
    assert all(secret not in str(r.json) for r in vapi.requests for secret in (ACME_TOKEN,))
