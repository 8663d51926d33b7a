import pytest

from telephony.models import NumberStatus, PhoneNumber
from telephony.services.webhook_contract import webhook_urls
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests import factories
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN, GLOBEX_SID

NUMBER = "+14155550142"


def numbers_of(org):
    with tenant_scope(org):
        return list(PhoneNumber.objects.order_by("phone_number").values_list("phone_number", "status", "agent_id"))


@pytest.fixture
def owned(twilio):
    return twilio.add_incoming_number(ACME_SID, NUMBER, friendly_name="Front desk",
                                      voice_url="https://old.example.com/voice", sms_url="https://old.example.com/sms")


@pytest.fixture
def number(org, owner, twilio_account, owned, run_on_commit):
    from telephony.services import adding

    with tenant_scope(org):
        return run_on_commit(adding.phone_number_add, organization=org, actor=owner, provider="twilio",
                             phone_number=NUMBER, account_sid=ACME_SID, auth_token=ACME_TOKEN)


@pytest.mark.django_db
def test_add_a_number_with_its_credentials_points_its_webhooks_at_us(owner_client, org, twilio, owned,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/api/acme/phone-numbers", {
            "provider": "twilio", "phoneNumber": "+1 (415) 555-0142", "friendlyName": "Support",
            "accountSid": ACME_SID, "authToken": ACME_TOKEN, "metadata": {"team": "support"},
        }, content_type="application/json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["phoneNumber"] == NUMBER
    assert body["friendlyName"] == "Support"
    assert body["providerSid"] == owned["sid"]
    assert body["capabilities"] == {"voice": True, "sms": True, "mms": True, "fax": False}
    assert body["metadata"]["isoCountry"] == "US"
    assert body["metadata"]["team"] == "support"
    assert ACME_TOKEN not in response.content.decode()

    ours = webhook_urls()
    at_twilio = twilio.number(ACME_SID, owned["sid"])
    assert (at_twilio["sms_url"], at_twilio["status_callback"], at_twilio["voice_url"]) == (
        ours.sms_url, ours.status_callback, ours.voice_url)
    with tenant_scope(org):
        stored = PhoneNumber.objects.get()
    assert stored.webhook_configured is True
    assert (stored.previous_voice_url, stored.previous_sms_url) == ("https://old.example.com/voice",
                                                                   "https://old.example.com/sms")
    assert ours.sms_url == "http://127.0.0.1:8000/webhooks/twilio/messages/"


@pytest.mark.django_db
@pytest.mark.parametrize("phone, message", [
    ("12345", "is not a phone number"),
    ("not a number", "is not a phone number"),
    ("+15555550100", "is not a valid phone number"),
])
def test_malformed_numbers_are_400(owner_client, org, twilio, phone, message):
    response = owner_client.post("/api/acme/phone-numbers", {
        "provider": "twilio", "phoneNumber": phone, "accountSid": ACME_SID, "authToken": ACME_TOKEN,
    }, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json()["phoneNumber"][0]
    assert numbers_of(org) == []


@pytest.mark.django_db
def test_a_number_the_account_does_not_own_is_400(owner_client, org, twilio, twilio_account):
    response = owner_client.post("/api/acme/phone-numbers", {
        "provider": "twilio", "phoneNumber": NUMBER, "accountSid": ACME_SID, "authToken": ACME_TOKEN,
    }, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["phoneNumber"] == [f"{NUMBER} is not a number of this Twilio account."]


@pytest.mark.django_db
def test_duplicates_are_refused(owner_client, org, number):
    response = owner_client.post("/api/acme/phone-numbers", {
        "provider": "twilio", "phoneNumber": NUMBER, "accountSid": ACME_SID, "authToken": ACME_TOKEN,
    }, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["phoneNumber"] == [f"{NUMBER} is already in this organization."]
    assert len(numbers_of(org)) == 1


@pytest.mark.django_db
def test_a_number_live_in_another_organization_cannot_be_added(org, owner, other_org, outsider, twilio,
                                                               owned, run_on_commit):
    from django.core.exceptions import ValidationError

    from telephony.services import adding

    with tenant_scope(other_org):
        run_on_commit(adding.phone_number_add, organization=other_org, actor=outsider, provider="twilio",
                      phone_number=NUMBER, account_sid=ACME_SID, auth_token=ACME_TOKEN)
    with tenant_scope(org), pytest.raises(ValidationError, match="already connected to another organization"):
        adding.phone_number_add(organization=org, actor=owner, provider="twilio", phone_number=NUMBER,
                                 account_sid=ACME_SID, auth_token=ACME_TOKEN)
    assert numbers_of(org) == []


@pytest.mark.django_db
def test_list_filters(owner_client, org, number, agent, twilio_account):
    with tenant_scope(org):
        client = factories.make_client(org, "Client A")
        other = PhoneNumber.objects.create(organization=org, provider_account=twilio_account,
                                           phone_number=factories.next_test_number(), provider_sid="PN2",
                                           agent=agent, client=client)

    def listed(query):
        response = owner_client.get(f"/api/acme/phone-numbers{query}")
        assert response.status_code == 200, response.json()
        return [n["phoneNumber"] for n in response.json()["results"]]

    assert listed("") == sorted([NUMBER, other.phone_number])
    assert listed("?assigned=false") == [NUMBER]
    assert listed("?assigned=true") == [other.phone_number]
    assert listed(f"?agentId={agent.pk}") == [other.phone_number]
    assert listed("?status=inactive") == []
    assert listed(f"?clientId={client.pk}") == [other.phone_number]
    assert listed(f"?clientId={client.pk}&assigned=false") == []
    bad = owner_client.get("/api/acme/phone-numbers?status=sleeping")
    assert bad.status_code == 400
    assert owner_client.get("/api/acme/phone-numbers?agentId=nope").status_code == 400


@pytest.mark.django_db
def test_assign_rename_and_unassign_over_the_api(owner_client, org, number, agent):
    url = f"/api/acme/phone-numbers/{number.pk}"
    response = owner_client.patch(url, {"agentId": str(agent.pk), "friendlyName": "Sales"},
                                  content_type="application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["agentId"] == str(agent.pk)
    assert response.json()["friendlyName"] == "Sales"
    response = owner_client.patch(url, {"agentId": None}, content_type="application/json")
    assert response.json()["agentId"] is None
    with tenant_scope(org):
        verbs = list(AuditEvent.objects.filter(target_id=number.pk).order_by("created_at").values_list("verb", flat=True))
    assert verbs[-3:] == ["phone_number.assigned", "phone_number.renamed", "phone_number.unassigned"]


@pytest.mark.django_db
def test_another_organizations_agent_cannot_be_assigned(owner_client, org, number, other_org):
    theirs = factories.make_agent(other_org, name="Globex bot", kind="ai", assistant_id="a")
    response = owner_client.patch(f"/api/acme/phone-numbers/{number.pk}", {"agentId": str(theirs.pk)},
                                  content_type="application/json")
    assert response.status_code == 400
    assert response.json()["agentId"] == ["No agent of this organization has that id."]
    assert numbers_of(org) == [(NUMBER, "active", None)]


@pytest.mark.django_db
def test_unknown_ids_are_404(owner_client, org, number):
    import uuid

    assert owner_client.get(f"/api/acme/phone-numbers/{uuid.uuid4()}").status_code == 404
    assert owner_client.patch(f"/api/acme/phone-numbers/{uuid.uuid4()}", {"agentId": None},
                              content_type="application/json").status_code == 404
    assert owner_client.delete(f"/api/acme/phone-numbers/{uuid.uuid4()}").status_code == 404
    assert owner_client.get("/api/acme/jobs/not-a-uuid").status_code == 404


@pytest.mark.django_db
def test_removing_a_number_gives_it_back_its_old_urls(owner_client, org, number, twilio, owned,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.delete(f"/api/acme/phone-numbers/{number.pk}")
    assert response.status_code == 202
    assert response.json()["status"] == "inactive"
    assert numbers_of(org) == []
    at_twilio = twilio.number(ACME_SID, owned["sid"])
    assert at_twilio["voice_url"] == "https://old.example.com/voice"
    assert at_twilio["sms_url"] == "https://old.example.com/sms"
    with tenant_scope(org):
        assert AuditEvent.objects.filter(verb="phone_number.removed", target_id=number.pk).exists()


@pytest.mark.django_db
def test_removing_a_number_already_released_at_twilio_still_removes_it(owner_client, org, number, twilio, owned,
                                                                      django_capture_on_commit_callbacks):
    twilio.release(ACME_SID, owned["sid"])
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.delete(f"/api/acme/phone-numbers/{number.pk}")
    assert response.status_code == 202
    assert numbers_of(org) == []  # nothing to give back at Twilio: the number is gone there
    with tenant_scope(org):
        assert AuditEvent.objects.filter(verb="phone_number.removed", target_id=number.pk).exists()


@pytest.mark.django_db
def test_a_removal_twilio_fails_for_a_while_shows_why_and_the_retry_finishes_it(owner_client, org, number, twilio,
                                                                                owned,
                                                                                django_capture_on_commit_callbacks):
    from celery.exceptions import Retry

    from telephony.tasks import phone_number_finish_removal

    twilio.fail_next(1, status=503, code=20503, message="Service unavailable")
    with pytest.raises(Retry), django_capture_on_commit_callbacks(execute=True):
        owner_client.delete(f"/api/acme/phone-numbers/{number.pk}")
    with tenant_scope(org):
        waiting = PhoneNumber.objects.get(pk=number.pk)
    assert (waiting.status, waiting.status_reason) == (NumberStatus.INACTIVE,
                                                    "Removal failed: Unable to update record: Service unavailable")

    phone_number_finish_removal.apply(kwargs={"organization_id": str(org.pk), "phone_number_id": str(number.pk)},
                                      throw=True)
    assert numbers_of(org) == []
    assert twilio.number(ACME_SID, owned["sid"])["voice_url"] == "https://old.example.com/voice"


@pytest.mark.django_db
def test_agents_cannot_manage_numbers(agent_client, org, number):
    assert agent_client.get("/api/acme/phone-numbers").status_code == 200
    response = agent_client.delete(f"/api/acme/phone-numbers/{number.pk}")
    assert response.status_code == 403
    assert agent_client.get("/o/acme/numbers/").status_code == 403
    assert numbers_of(org) == [(NUMBER, "active", None)]


@pytest.mark.django_db
def test_search_and_buy_with_a_confirmation_step(owner_client, org, twilio, twilio_account):
    page = owner_client.get(f"/o/acme/numbers/search/?account={twilio_account.pk}&country=US&number_type=local"
                            "&area_code=415&sms=on")
    assert page.status_code == 200
    html = page.content.decode()
    candidate = next(line for line in html.split("<td>") if line.startswith("+1415")).split("<")[0]
    confirm = owner_client.get("/o/acme/numbers/buy/", {"account": twilio_account.pk, "phone_number": candidate})
    assert f"Buy {candidate}?" in confirm.content.decode()
    assert numbers_of(org) == []  # nothing bought by looking

    response = owner_client.post("/o/acme/numbers/buy/", {"account": twilio_account.pk, "phone_number": candidate})
    assert response.status_code == 302
    assert numbers_of(org) == [(candidate, "active", None)]
    bought = next(n for n in twilio.numbers(ACME_SID) if n["phone_number"] == candidate)
    assert bought["sms_url"] == webhook_urls().sms_url


@pytest.mark.django_db
def test_buying_an_unavailable_number_says_why(owner_client, org, twilio, twilio_account):
    response = owner_client.post("/api/acme/phone-numbers/buy", {
        "providerAccountId": str(twilio_account.pk), "phoneNumber": "+15005550000"},
        content_type="application/json")
    assert response.status_code == 400
    assert response.json()["phoneNumber"] == ["That phone number is not available to buy any more."]
    assert numbers_of(org) == []


@pytest.mark.django_db
@pytest.mark.parametrize("casing", ["lower", "upper"])
def test_available_numbers_read_capabilities_in_either_casing(owner_client, org, settings, casing):
    from softphone.simulator.twilio import FakeTwilio

    fake = FakeTwilio(available_capabilities_casing=casing)
    settings.TWILIO_API_BASE_URL = fake.start()
    try:
        fake.add_account(ACME_SID, ACME_TOKEN)
        response = owner_client.post("/api/acme/phone-numbers/twilio/available", {
            "accountSid": ACME_SID, "authToken": ACME_TOKEN, "country": "US", "areaCode": "415"},
            content_type="application/json")
    finally:
        fake.stop()
    assert response.status_code == 200, response.json()
    found = response.json()
    assert found and all(n["phoneNumber"].startswith("+1415") for n in found)
    assert found[0]["capabilities"]["sms"] is True
    assert found[0]["capabilities"]["voice"] is True


@pytest.mark.django_db
def test_number_page_shows_its_history(owner_client, org, number, agent):
    owner_client.post(f"/o/acme/numbers/{number.pk}/assign/", {"agent": agent.pk})
    page = owner_client.get(f"/o/acme/numbers/{number.pk}/").content.decode()
    assert "Answered by <strong>Dana Agent</strong>" in page
    assert "phone_number.assigned" in page
    assert "Alice Owner" in page
    assert ACME_TOKEN not in page


@pytest.mark.django_db
def test_numbers_list_page_filters_and_bulk_assigns(owner_client, org, number, agent, twilio_account):
    with tenant_scope(org):
        second = PhoneNumber.objects.create(organization=org, provider_account=twilio_account,
                                            phone_number=factories.next_test_number(), provider_sid="PN9")
    page = owner_client.get("/o/acme/numbers/?assigned=no").content.decode()
    assert NUMBER in page and second.phone_number in page
    response = owner_client.post("/o/acme/numbers/assign/", {"numbers": [number.pk, second.pk], "agent": agent.pk})
    assert response.status_code == 302
    assert {n[2] for n in numbers_of(org)} == {agent.pk}
    page = owner_client.get("/o/acme/numbers/?assigned=no").content.decode()
    assert "No numbers match." in page
    assert GLOBEX_SID not in page


@pytest.mark.django_db
def test_released_numbers_are_not_assignable(owner_client, org, number, agent):
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=number.pk).update(status=NumberStatus.INACTIVE)
    response = owner_client.patch(f"/api/acme/phone-numbers/{number.pk}", {"agentId": str(agent.pk)},
                                  content_type="application/json")
    assert response.status_code == 400
    assert response.json()["agentId"] == ["This number is inactive and cannot be assigned."]
