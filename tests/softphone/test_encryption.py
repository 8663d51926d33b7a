import io
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from messaging.models import WhatsAppSender
from softphone.secrets import encrypted_fields
from telephony.models import Provider, ProviderAccount
from tenants.models import Organization
from tenants.scoping import tenant_scope
from tenants.services import invitation_create
from tests import factories

BASE_DIR = Path(__file__).resolve().parents[2]

SECRET = "ck_live_5bd3a1f0e9"


def _reset_field_keys():
    """EncryptedField caches its Fernet per field; a test that changes FERNET_KEYS must drop it."""
    for _model, fields in encrypted_fields():
        for field in fields:
            for attr in ("keys", "fernet_keys", "fernet"):
                field.__dict__.pop(attr, None)


@pytest.fixture
def fernet_keys(settings):
    def use(*keys):
        settings.FERNET_KEYS = list(keys)
        _reset_field_keys()

    yield use
    _reset_field_keys()


def _raw_column(org) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute("select channel_automation_api_key from tenants_organization where id = %s", [org.pk])
        return bytes(cursor.fetchone()[0])


@pytest.mark.django_db
def test_the_database_column_holds_ciphertext_not_the_secret(org):
    org.channel_automation_api_key = SECRET
    org.save()
    raw = _raw_column(org)
    assert raw.startswith(b"gAAAA")
    assert SECRET.encode() not in raw
    assert Organization.objects.get(pk=org.pk).channel_automation_api_key == SECRET


@pytest.mark.django_db
def test_rotation_reencrypts_every_secret_under_the_first_key(org, fernet_keys):
    fernet_keys("old-key")
    org.channel_automation_api_key = SECRET
    org.save()
    before = _raw_column(org)

    fernet_keys("new-key", "old-key")
    call_command("reencrypt_secrets")
    after = _raw_column(org)
    assert after != before

    fernet_keys("new-key")  # the old key is gone: the value must still read back
    assert Organization.objects.get(pk=org.pk).channel_automation_api_key == SECRET


@pytest.mark.django_db
def test_a_wrong_key_raises_instead_of_returning_ciphertext(org, fernet_keys):
    fernet_keys("right-key")
    org.channel_automation_api_key = SECRET
    org.save()
    fernet_keys("wrong-key")
    with pytest.raises(InvalidToken):
        Organization.objects.get(pk=org.pk)
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("reencrypt_secrets")
    fernet_keys("right-key")
    assert Organization.objects.get(pk=org.pk).channel_automation_api_key == SECRET


@pytest.mark.django_db
def test_the_admin_never_shows_a_secret_back(org, staff_user, client):
    org.channel_automation_api_key = SECRET
    org.save()
    client.force_login(staff_user)
    page = client.get(f"/admin/tenants/organization/{org.pk}/change/")
    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    assert "A value is set" in page.content.decode()

    # Saving the form with the secret left empty keeps it.
    form = {"name": "Acme Renamed", "slug": org.slug, "currency": "USD", "agent_visibility": "all",
            "channel_automation_api_key": ""}
    response = client.post(f"/admin/tenants/organization/{org.pk}/change/", form)
    assert response.status_code == 302, re.findall(r"errorlist.{0,300}", response.content.decode())
    org.refresh_from_db()
    assert org.name == "Acme Renamed"
    assert org.channel_automation_api_key == SECRET


def _tenant_secrets(organization, owner, suffix: str) -> dict:
    """One row of each row-level-secured model with secrets, with values unique to ``suffix``."""
    with tenant_scope(organization):
        account = ProviderAccount.objects.create(
            organization=organization, provider=Provider.TWILIO, friendly_name=f"Twilio {suffix}",
            account_sid="AC" + uuid.uuid4().hex, auth_token=f"auth-{suffix}", api_key_secret=f"keysecret-{suffix}")
        sender = WhatsAppSender.objects.create(
            organization=organization, name=f"WA {suffix}", display_phone_number=factories.next_test_number(),
            phone_number_id=f"pnid-{suffix}", access_token=f"access-{suffix}", app_secret=f"appsecret-{suffix}",
            verify_token=f"verify-{suffix}")
        invitation, token = invitation_create(organization=organization, actor=owner,
                                              email=f"invitee-{suffix}@example.com")
    return {account: {"auth_token": f"auth-{suffix}", "api_key_secret": f"keysecret-{suffix}"},
            sender: {"access_token": f"access-{suffix}", "app_secret": f"appsecret-{suffix}"},
            invitation: {"token": token}}


def _read_back(organization, rows: dict) -> dict:
    """What the application reads now, inside the organization's scope (RLS applies)."""
    with tenant_scope(organization):
        return {obj: {name: getattr(type(obj).objects.get(pk=obj.pk), name) for name in values}
                for obj, values in rows.items()}


@pytest.mark.django_db
def test_rotation_reaches_every_organizations_row_level_secured_secrets(org, owner, other_org, outsider,
                                                                        fernet_keys):
    fernet_keys("old-key")
    acme = _tenant_secrets(org, owner, "acme")
    globex = _tenant_secrets(other_org, outsider, "globex")

    fernet_keys("new-key", "old-key")
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    report = out.getvalue()
    for label in ("telephony.ProviderAccount", "messaging.WhatsAppSender", "tenants.Invitation"):
        assert f"{label}: 2 row(s) re-encrypted (2 of them were under an older key)" in report
    assert "All secrets are encrypted under the first key." in report

    fernet_keys("new-key")  # the old key is dropped: every secret of both organizations still reads
    assert _read_back(org, acme) == acme
    assert _read_back(other_org, globex) == globex

    # Running it again changes only the ciphertext: everything was already under the first key.
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "telephony.ProviderAccount: 2 row(s) re-encrypted (0 of them were under an older key)" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_secret_under_an_unknown_key_fails_the_command_and_is_named(org, owner, other_org, outsider,
                                                                      fernet_keys):
    """The command as an operator runs it (its own process, the application's database role): it
    rewrites what it can read, names what it cannot, and exits non-zero."""
    fernet_keys("old-key")
    acme = _tenant_secrets(org, owner, "acme")
    fernet_keys("a-key-nobody-has")
    with tenant_scope(other_org):
        stray = ProviderAccount.objects.create(organization=other_org, provider=Provider.TWILIO,
                                               account_sid="AC" + uuid.uuid4().hex, auth_token="stray")

    env = {**os.environ, "DATABASE_NAME": connection.settings_dict["NAME"], "FERNET_KEYS": "new-key,old-key"}
    result = subprocess.run([sys.executable, "manage.py", "reencrypt_secrets"], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "1 stored secret(s) cannot be decrypted with any key in FERNET_KEYS" in result.stderr
    assert f"telephony.ProviderAccount {stray.pk} of organization {other_org.pk}, field auth_token" in result.stderr
    assert "All secrets are encrypted under the first key." not in result.stdout
    assert "telephony.ProviderAccount: 1 row(s) re-encrypted" in result.stdout
    assert "stray" not in result.stdout + result.stderr.replace(f"{stray.pk}", "")

    fernet_keys("new-key")  # what could be read was moved to the new key
    assert _read_back(org, acme) == acme
    fernet_keys("a-key-nobody-has")  # and the unreadable row was left exactly as it was
    with tenant_scope(other_org):
        assert ProviderAccount.objects.get(pk=stray.pk).auth_token == "stray"
