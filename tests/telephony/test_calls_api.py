"""The calls REST API: the log with the page's filters, one call, and no vendor secrets or addresses."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client

from telephony.models import PhoneNumber, Provider
from tenants.scoping import tenant_scope
from tests import factories
from tests.telephony.test_call_log import CUSTOMER, OUR_NUMBER, SECOND_NUMBER, make_call, today_anchor
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

pytestmark = pytest.mark.django_db

RECORDING = f"https://api.twilio.com/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'7' * 32}"


@pytest.fixture
def numbers(org, twilio_account, agent):
    with tenant_scope(org):
        ours = PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number=OUR_NUMBER,
            provider_sid="PN" + "1" * 32, agent=agent, capabilities={"voice": True})
        second = PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number=SECOND_NUMBER,
            provider_sid="PN" + "2" * 32, capabilities={"voice": True})
    return ours, second


@pytest.fixture
def calls(org, numbers, admin):
    ours, second = numbers
    now = today_anchor()
    colleague = factories.make_agent(org, user=admin, name="Bob Colleague")
    return {
        "old": make_call(org, ours, at=now - timedelta(days=3), duration=61),
        "colleague": make_call(org, second, at=now - timedelta(minutes=30), agent=colleague),
        "outbound": make_call(org, ours, at=now - timedelta(minutes=20), direction="outbound", status="busy"),
        "voicemail": make_call(org, ours, at=now - timedelta(minutes=10), answered=False, status="no-answer",
                               voicemail=True, recording_sid="RE" + "7" * 32, recording_url=RECORDING,
                               recording_duration=42, notes="Call back after 5"),
    }


def names_of(calls, results) -> list[str]:
    by_id = {str(call.pk): name for name, call in calls.items()}
    return [by_id[row["id"]] for row in results]


def test_the_list_is_paged_newest_first_in_the_apis_shape(agent_client, org, calls, numbers):
    page = agent_client.get("/api/acme/calls", {"pageSize": 3}).json()
    assert page["count"] == 4 and page["next"] and page["previous"] is None
    assert names_of(calls, page["results"]) == ["voicemail", "outbound", "colleague"]
    rest = agent_client.get(page["next"]).json()
    assert names_of(calls, rest["results"]) == ["old"]

    voicemail = page["results"][0]
    call = calls["voicemail"]
    assert voicemail == {
        "id": str(call.pk), "direction": "inbound", "status": "no-answer", "outcome": "Voicemail (0:42)",
        "missed": True, "voicemail": True, "fromNumber": CUSTOMER, "toNumber": OUR_NUMBER,
        "phoneNumberId": str(numbers[0].pk), "agentId": str(call.agent_id), "contactId": str(call.contact_id),
        "provider": "twilio", "providerSid": call.provider_sid, "startedAt": voicemail["startedAt"],
        "answeredAt": None, "endedAt": voicemail["endedAt"], "duration": None, "failureReason": "",
        "recordingUrl": f"http://testserver/o/acme/calls/{call.pk}/recording/", "recordingDuration": 42,
        "transcript": "", "summary": "", "cost": None, "endedReason": "", "notes": "Call back after 5",
        "transferredById": None, "transferredToId": None, "seenAt": None, "createdAt": voicemail["createdAt"],
        "updatedAt": voicemail["updatedAt"],
    }
    assert "api.twilio.com" not in json.dumps(page) and ACME_TOKEN not in json.dumps(page)
    assert names_of(calls, [r for r in page["results"] if r["recordingUrl"] is None]) == ["outbound", "colleague"]


@pytest.mark.parametrize("query, expected", [
    ({"mine": "true"}, ["voicemail", "outbound", "old"]),
    ({"missed": "true"}, ["voicemail"]),
    ({"voicemail": "true"}, ["voicemail"]),
    ({"direction": "outbound"}, ["outbound"]),
    ({"phoneNumberId": "second"}, ["colleague"]),
    ({"from": "{today}"}, ["voicemail", "outbound", "colleague"]),
    ({"to": "{three_days_ago}"}, ["old"]),
    ({"from": "{three_days_ago}", "to": "{three_days_ago}", "mine": "true"}, ["old"]),
])
def test_the_filters_are_the_pages(agent_client, calls, numbers, query, expected):
    today = today_anchor().date()
    values = {"today": today.isoformat(), "three_days_ago": (today - timedelta(days=3)).isoformat()}
    params = {key: value.format(**values) for key, value in query.items()}
    if params.get("phoneNumberId") == "second":
        params["phoneNumberId"] = str(numbers[1].pk)
    response = agent_client.get("/api/acme/calls", params)
    assert response.status_code == 200, response.json()
    assert names_of(calls, response.json()["results"]) == expected


def test_bad_filters_are_400s_that_say_what_is_wrong(agent_client, calls, other_org, outsider):
    theirs = factories.build_world(other_org, outsider)["phonenumber"]
    cases = [({"from": "2026-03-02", "to": "2026-03-01"}, "from", "The first day comes after the last one."),
             ({"from": "last week"}, "from", "Date has wrong format"),
             ({"direction": "sideways"}, "direction", "is not a valid choice"),
             ({"phoneNumberId": "nope"}, "phoneNumberId", "Must be a valid UUID."),
             ({"phoneNumberId": str(theirs.pk)}, "phoneNumberId", "No phone number of this organization has that id.")]
    for params, field, text in cases:
        response = agent_client.get("/api/acme/calls", params)
        assert response.status_code == 400, params
        assert text in " ".join(response.json()[field]), response.json()


def test_one_call_and_another_organizations_calls(agent_client, outsider_client, calls, other_org):
    call = calls["voicemail"]
    one = agent_client.get(f"/api/acme/calls/{call.pk}").json()
    assert (one["id"], one["outcome"], one["recordingUrl"]) == (
        str(call.pk), "Voicemail (0:42)", f"http://testserver/o/acme/calls/{call.pk}/recording/")
    assert agent_client.get(f"/api/acme/calls/{calls['outbound'].pk}").json()["outcome"] == "Busy"
    assert outsider_client.get(f"/api/acme/calls/{call.pk}").status_code == 404
    assert outsider_client.get(f"/api/{other_org.slug}/calls/{call.pk}").status_code == 404
    assert outsider_client.get(f"/api/{other_org.slug}/calls").json()["results"] == []
    assert Client().get("/api/acme/calls").status_code == 401


def test_placing_a_call_needs_a_number_to_call_from(owner_client, calls):
    response = owner_client.post("/api/acme/calls", {"to": CUSTOMER}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fromNumberId"] == ["This field is required."]
