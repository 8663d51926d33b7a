"""The import page's "next page" links: they page through the account's numbers at Twilio (real SDK
against the fake), and nothing a link carries can send the account's credentials anywhere else."""

import html
import re
from urllib.parse import quote, unquote

import pytest

from core.vendors import ProviderError
from softphone.simulator.server import FakeServer, Response
from telephony.models import Provider
from telephony.providers.twilio import TwilioProvider
from telephony.services import accounts, importing
from tenants.models import Job, JobStatus
from tenants.scoping import tenant_scope
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN, GLOBEX_SID, GLOBEX_TOKEN

FIRST = "+14155550000"


class Listener(FakeServer):
    """An attacker's server: it records whatever reaches it."""

    def __init__(self):
        super().__init__()
        self.requests = []

    def handle(self, request):
        self.requests.append(request)
        return Response(200, b'{"incoming_phone_numbers": [], "next_page_uri": null}',
                        {"Content-Type": "application/json"})


@pytest.fixture
def listener():
    with Listener() as server:
        yield server


def import_page(client, account, cursor=None):
    url = f"/o/{account.organization.slug}/numbers/import/?account={account.pk}"
    if cursor is not None:
        url += "&cursor=" + quote(cursor, safe="")
    return client.get(url)


def next_link(response) -> str | None:
    found = re.search(r'href="\?account=[^&"]+&amp;cursor=([^"]+)">Next page', response.content.decode())
    if not found:
        return None
    return unquote(html.unescape(found.group(1)))


def numbers_on(response) -> list[str]:
    return re.findall(r'name="numbers" value="(\+\d+)"', response.content.decode())


@pytest.mark.django_db
def test_the_next_page_links_walk_every_page_of_the_account(owner_client, twilio, twilio_account):
    twilio.add_incoming_numbers(ACME_SID, 250, start=FIRST)
    seen, cursor, pages = [], None, 0
    while True:
        response = import_page(owner_client, twilio_account, cursor)
        assert response.status_code == 200
        seen += numbers_on(response)
        pages += 1
        cursor = next_link(response)
        if cursor is None:
            break
        assert "twilio.com" not in cursor and "/2010-04-01/" not in cursor  # a token, not a URL
    assert pages == 3
    assert seen == [f"+1415555{n:04d}" for n in range(250)]


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", [
    "http://{listener}/steal",
    "https://{listener}/2010-04-01/Accounts/" + ACME_SID + "/IncomingPhoneNumbers.json?Page=1",
    "//{listener}/2010-04-01/Accounts/" + ACME_SID + "/IncomingPhoneNumbers.json",
    "https://api.twilio.com@{listener}/2010-04-01/Accounts/" + ACME_SID + "/IncomingPhoneNumbers.json",
    "https://api.twilio.com/2010-04-01/Accounts/" + ACME_SID + "/IncomingPhoneNumbers.json?Page=1",
    "/2010-04-01/Accounts/" + ACME_SID + "/IncomingPhoneNumbers.json?Page=1",
    "not a token at all",
])
def test_a_cursor_we_did_not_issue_is_400_and_reaches_no_one(owner_client, twilio, twilio_account, listener,
                                                              cursor):
    twilio.add_incoming_numbers(ACME_SID, 150, start=FIRST)
    twilio.requests.clear()
    host = listener.base_url.removeprefix("http://")
    response = import_page(owner_client, twilio_account, cursor.format(listener=host))
    assert response.status_code == 400
    assert "This page link is not valid for this account" in response.content.decode()
    assert numbers_on(response) == []
    assert listener.requests == []
    assert twilio.requests == []  # not even Twilio is asked


@pytest.mark.django_db
def test_a_changed_token_is_400(owner_client, twilio, twilio_account):
    twilio.add_incoming_numbers(ACME_SID, 150, start=FIRST)
    token = next_link(import_page(owner_client, twilio_account))
    assert token
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = import_page(owner_client, twilio_account, tampered)
    assert response.status_code == 400
    assert numbers_on(response) == []


@pytest.mark.django_db
def test_another_organizations_page_link_does_not_work_here(owner_client, outsider_client, org, other_org,
                                                            outsider, twilio, twilio_account):
    twilio.add_incoming_numbers(GLOBEX_SID, 150, start="+14155560000")
    with tenant_scope(other_org):
        globex_account = accounts.provider_account_connect(organization=other_org, actor=outsider,
                                                           provider=Provider.TWILIO, account_sid=GLOBEX_SID,
                                                           auth_token=GLOBEX_TOKEN)
    token = next_link(import_page(outsider_client, globex_account))
    assert token
    assert numbers_on(import_page(outsider_client, globex_account, token))  # valid where it was issued
    twilio.requests.clear()
    response = import_page(owner_client, twilio_account, token)
    assert response.status_code == 400
    assert numbers_on(response) == []
    assert twilio.requests == []


@pytest.mark.django_db
def test_a_second_account_of_the_same_organization_cannot_reuse_the_link(owner_client, org, owner, twilio,
                                                                         twilio_account):
    twilio.add_incoming_numbers(ACME_SID, 150, start=FIRST)
    with tenant_scope(org):
        second = accounts.provider_account_connect(organization=org, actor=owner, provider=Provider.TWILIO,
                                                   account_sid=GLOBEX_SID, auth_token=GLOBEX_TOKEN)
    token = next_link(import_page(owner_client, twilio_account))
    response = import_page(owner_client, second, token)
    assert response.status_code == 400


def test_the_adapter_refuses_a_foreign_page_url_before_any_connection(twilio, listener):
    provider = TwilioProvider(account_sid=ACME_SID, auth_token=ACME_TOKEN)
    for cursor in (f"{listener.base_url}/steal",
                   f"https://api.twilio.com/2010-04-01/Accounts/{GLOBEX_SID}/IncomingPhoneNumbers.json",
                   f"https://api.twilio.com/2010-04-01/Accounts/{ACME_SID}/Messages.json"):
        with pytest.raises(ProviderError, match="not a page of this account's numbers"):
            provider.incoming_numbers_page(cursor)
    assert listener.requests == []


def test_the_twilio_http_client_sends_credentials_to_the_configured_host_only(twilio, listener):
    provider = TwilioProvider(account_sid=ACME_SID, auth_token=ACME_TOKEN)
    with pytest.raises(ProviderError, match="Refused to send the account's credentials"):
        provider.client.request("GET", f"{listener.base_url}/steal")
    assert listener.requests == []
    assert provider.verify().sid == ACME_SID  # the configured host still works


@pytest.mark.django_db
def test_an_import_job_with_a_foreign_cursor_fails_without_sending_anything(org, owner, twilio, twilio_account,
                                                                            listener):
    with tenant_scope(org):
        job = Job.objects.create(organization=org, kind=importing.IMPORT_JOB, created_by=owner,
                                 cursor=f"{listener.base_url}/steal", params={
                                     "provider_account_id": str(twilio_account.pk), "numbers": None,
                                     "phase": "list"})
        with pytest.raises(ProviderError):
            importing.phone_numbers_import_run(organization=org, job_id=job.pk)
        assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING
    assert listener.requests == []
