"""AI agents stay in step with VAPI: a new assistant answers every number of the agent there,
deleting the agent takes its numbers off VAPI (our routing back), and the agent form offers the
connected VAPI account's assistants and refuses an id VAPI does not have."""

import uuid

import pytest

from telephony.models import PhoneNumber, PlatformState
from telephony.services import adding, assignment
from telephony.services.webhook_contract import webhook_urls
from tenants.models import Agent, AuditEvent
from tenants.scoping import tenant_scope
from tests import factories
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

NUMBERS = ("+14155550142", "+14155550143")
ELSEWHERE = "+14155550144"


def add_number(org, owner, twilio, phone, run_on_commit):
    twilio.add_incoming_number(ACME_SID, phone, voice_url="https://old.example.com/voice")
    with tenant_scope(org):
        return run_on_commit(adding.phone_number_add, organization=org, actor=owner, provider="twilio",
                             phone_number=phone, account_sid=ACME_SID, auth_token=ACME_TOKEN)


def assign(org, owner, number, agent, run_on_commit):
    with tenant_scope(org):
        return run_on_commit(assignment.phone_number_assign, organization=org, actor=owner, number=number,
                             agent=agent)


@pytest.fixture
def numbers(org, owner, twilio, twilio_account, vapi, vapi_account, ai_agent, run_on_commit):
    """Two numbers of the night bot on VAPI."""
    added = [add_number(org, owner, twilio, phone, run_on_commit) for phone in NUMBERS]
    for number in added:
        assign(org, owner, number, ai_agent, run_on_commit)
    return added


def on_vapi(vapi):
    return {number["number"]: number["assistantId"] for number in vapi.phone_numbers()}


def stored(org):
    with tenant_scope(org):
        return {n.phone_number: n for n in PhoneNumber.objects.select_related("agent")}


def edit(owner_client, agent, **fields):
    data = {"name": agent.name, "kind": agent.kind, "assistant_id": agent.assistant_id, **fields}
    return owner_client.post(f"/o/acme/agents/{agent.pk}/edit/", data)


@pytest.mark.django_db
def test_a_new_assistant_answers_every_number_of_the_agent_on_vapi(owner_client, org, owner, twilio, vapi, numbers,
                                                                   ai_agent, assistant, run_on_commit,
                                                                   django_capture_on_commit_callbacks):
    # Another AI agent's number must not move.
    other_bot = factories.make_agent(org, name="Other bot", kind="ai", assistant_id=assistant["id"])
    assign(org, owner, add_number(org, owner, twilio, ELSEWHERE, run_on_commit), other_bot, run_on_commit)
    day = vapi.add_assistant(name="Day shift")
    asked_before = len(vapi.requests)

    with django_capture_on_commit_callbacks(execute=True):
        response = edit(owner_client, ai_agent, assistant_id=day["id"])

    assert response.status_code == 302
    assert on_vapi(vapi) == {NUMBERS[0]: day["id"], NUMBERS[1]: day["id"], ELSEWHERE: assistant["id"]}
    patches = [r for r in vapi.requests[asked_before:] if r.method == "PATCH"]
    ids = {n.platform_id for phone, n in stored(org).items() if phone in NUMBERS}
    assert {r.path.rsplit("/", 1)[1] for r in patches} == ids
    assert all(r.json["assistantId"] == day["id"] for r in patches)
    assert {n.platform_state for n in stored(org).values()} == {PlatformState.SYNCED}
    with tenant_scope(org):
        assert AuditEvent.objects.filter(verb="phone_number.vapi_assistant_changed").count() == 2


@pytest.mark.django_db
def test_the_api_changes_the_assistant_the_same_way(owner_client, org, vapi, numbers, ai_agent,
                                                    django_capture_on_commit_callbacks):
    day = vapi.add_assistant(name="Day shift")

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.patch(f"/api/acme/agents/{ai_agent.pk}", {"assistantId": day["id"]},
                                      content_type="application/json")

    assert response.status_code == 200, response.json()
    assert set(on_vapi(vapi).values()) == {day["id"]}


@pytest.mark.django_db
def test_a_renamed_agent_leaves_vapi_alone(owner_client, org, vapi, numbers, ai_agent,
                                           django_capture_on_commit_callbacks):
    asked_before = len(vapi.requests)

    with django_capture_on_commit_callbacks(execute=True):
        assert edit(owner_client, ai_agent, name="Night owl").status_code == 302

    # The form read the assistant list; no number was touched.
    assert [r.path for r in vapi.requests[asked_before:]] == ["/assistant"]


@pytest.mark.django_db
def test_an_ai_agent_made_a_person_takes_its_numbers_off_vapi(owner_client, org, twilio, vapi, numbers, ai_agent,
                                                              agent_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = edit(owner_client, ai_agent, kind="human", assistant_id="", user=agent_user.pk)

    assert response.status_code == 302, response.content.decode()
    assert vapi.phone_numbers() == []
    assert {twilio.find_number(ACME_SID, phone)["voice_url"] for phone in NUMBERS} == {webhook_urls().voice_url}


@pytest.mark.django_db
def test_deleting_an_ai_agent_unassigns_its_numbers_and_takes_them_off_vapi(owner_client, org, twilio, vapi, numbers,
                                                                            ai_agent,
                                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/o/acme/agents/{ai_agent.pk}/delete/")

    assert response.status_code == 302
    assert vapi.phone_numbers() == []
    for phone, number in stored(org).items():
        assert (number.agent, number.platform, number.platform_id, number.platform_state) == (None, "", "", "")
        # Calls reach us again; texts never left.
        assert twilio.find_number(ACME_SID, phone)["voice_url"] == webhook_urls().voice_url
        assert twilio.find_number(ACME_SID, phone)["sms_url"] == webhook_urls().sms_url
    with tenant_scope(org):
        assert not Agent.objects.filter(pk=ai_agent.pk).exists()
        assert AuditEvent.objects.filter(verb="phone_number.unassigned").count() == 2
        assert AuditEvent.objects.filter(verb="phone_number.vapi_removed").count() == 2


@pytest.mark.django_db
def test_the_agent_form_offers_the_assistants_of_the_connected_vapi_account(owner_client, org, vapi, vapi_account,
                                                                           ai_agent, assistant):
    vapi.add_assistant(name="Day shift")

    for page in (owner_client.get("/o/acme/team/"), owner_client.get(f"/o/acme/agents/{ai_agent.pk}/edit/")):
        html = page.content.decode()
        assert page.status_code == 200
        assert f'<option value="{assistant["id"]}"' in html and "Night shift" in html and "Day shift" in html
        assert "one of the assistants of the connected VAPI account" in html


@pytest.mark.django_db
def test_the_agent_form_refuses_an_assistant_vapi_does_not_have(owner_client, org, vapi, numbers, ai_agent,
                                                                assistant):
    unknown = str(uuid.uuid4())
    asked_before = len([r for r in vapi.requests if r.method == "PATCH"])

    response = edit(owner_client, ai_agent, assistant_id=unknown)
    created = owner_client.post("/o/acme/agents/new/", {"name": "Ghost", "kind": "ai", "assistant_id": unknown})

    for refused in (response, created):
        assert refused.status_code == 400
        assert f"The connected VAPI account has no assistant with id {unknown}." in refused.content.decode()
    with tenant_scope(org):
        assert Agent.objects.get(pk=ai_agent.pk).assistant_id == assistant["id"]
        assert not Agent.objects.filter(name="Ghost").exists()
    assert len([r for r in vapi.requests if r.method == "PATCH"]) == asked_before


@pytest.mark.django_db
def test_the_api_refuses_an_assistant_vapi_does_not_have(owner_client, org, vapi, vapi_account):
    unknown = str(uuid.uuid4())

    response = owner_client.post("/api/acme/agents", {"name": "Ghost", "kind": "ai", "assistantId": unknown},
                                 content_type="application/json")

    assert response.status_code == 400
    assert f"no assistant with id {unknown}" in str(response.json())


@pytest.mark.django_db
def test_an_assistant_created_a_moment_ago_is_accepted(owner_client, org, vapi, vapi_account):
    owner_client.get("/o/acme/team/")  # the list is read (and kept a minute) before the assistant exists
    fresh = vapi.add_assistant(name="Brand new")

    response = owner_client.post("/o/acme/agents/new/", {"name": "New bot", "kind": "ai", "assistant_id": fresh["id"]})

    assert response.status_code == 302, response.content.decode()
    with tenant_scope(org):
        assert Agent.objects.get(name="New bot").assistant_id == fresh["id"]


@pytest.mark.django_db
def test_when_vapi_cannot_be_reached_the_form_says_so_and_a_new_assistant_waits(owner_client, org, vapi,
                                                                               vapi_account, ai_agent, settings):
    settings.VAPI_API_BASE_URL = "http://127.0.0.1:9/"  # nobody listens there
    other = str(uuid.uuid4())

    page = owner_client.get(f"/o/acme/agents/{ai_agent.pk}/edit/").content.decode()
    response = edit(owner_client, ai_agent, assistant_id=other)
    renamed = edit(owner_client, ai_agent, name="Night owl")  # the assistant is not changed: no need to ask

    assert "VAPI could not be reached" in page and "checked with VAPI when you save" in page
    assert response.status_code == 400
    assert "The assistant could not be checked: VAPI could not be reached" in response.content.decode()
    assert renamed.status_code == 302
    with tenant_scope(org):
        assert Agent.objects.get(pk=ai_agent.pk).assistant_id != other


@pytest.mark.django_db
def test_without_vapi_the_assistant_id_is_kept_as_typed(owner_client, org):
    page = owner_client.get("/o/acme/team/").content.decode()
    response = owner_client.post("/o/acme/agents/new/", {"name": "Bot", "kind": "ai",
                                                         "assistant_id": "3f2b8c1e-5d4a-4f6b-9a7e-1c2d3e4f5a6b"})

    assert "Connect a VAPI account to choose among its assistants" in page
    assert response.status_code == 302
