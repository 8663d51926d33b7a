import re

import pytest
from cryptography.fernet import InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from softphone.secrets import encrypted_fields
from tenants.models import Organization

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
    form = {"name": "Acme Renamed", "slug": org.slug, "channel_automation_api_key": ""}
    response = client.post(f"/admin/tenants/organization/{org.pk}/change/", form)
    assert response.status_code == 302, re.findall(r"errorlist.{0,300}", response.content.decode())
    org.refresh_from_db()
    assert org.name == "Acme Renamed"
    assert org.channel_automation_api_key == SECRET
