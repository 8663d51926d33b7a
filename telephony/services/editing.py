"""A number we have: rename it, set how its calls ring and its voicemail greeting, take it out of
service when the provider released it, remove it."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from core.vendors import ProviderError
from telephony import jobs, providers
from telephony.audio import audio_format
from telephony.lines import lines_changed
from telephony.models import NumberStatus, PhoneNumber, PlatformState, WebhookMode
from telephony.providers.base import WebhookUrls
from tenants.models import Organization
from tenants.services import audit

from .platform import platform_leave


@transaction.atomic
def phone_number_update(*, organization: Organization, actor, number: PhoneNumber, friendly_name: str) -> PhoneNumber:
    locked = PhoneNumber.objects.select_for_update().get(organization=organization, pk=number.pk)
    if locked.friendly_name != friendly_name:
        previous = locked.friendly_name
        locked.friendly_name = friendly_name[:100]
        locked.save(update_fields=["friendly_name", "updated_at"])
        audit(organization=organization, actor=actor, verb="phone_number.renamed", target=locked,
              data={"from": previous, "to": locked.friendly_name})
    return locked


RING_TIMEOUT_MIN, RING_TIMEOUT_MAX = 5, 60
GREETING_MAX_CHARS = 1000  # about a minute spoken: callers hang up on longer greetings
GREETING_MAX_BYTES = 4 * 1024 * 1024  # a minute of WAV at 8 kHz is under 1 MB; MP3 far less


def _greeting_audio_read(upload) -> tuple[str | None, bytes]:
    """(the recording's format, its bytes), or raise with a sentence saying what is wrong with it."""
    if upload.size > GREETING_MAX_BYTES:
        raise ValidationError({"greeting_audio": f"The recording is larger than {GREETING_MAX_BYTES // (1024 * 1024)} "
                                                 "MB; upload a shorter one."})
    upload.seek(0)
    data = upload.read(GREETING_MAX_BYTES + 1)
    kind = audio_format(data)
    if kind is None:
        raise ValidationError({"greeting_audio": "This file is not an MP3 or WAV recording (whatever its name "
                                                 "says); upload an MP3 or a WAV file."})
    return kind, data


def phone_number_voice_update(*, organization: Organization, actor, number: PhoneNumber, ring_timeout: int,
                              voicemail_greeting: str, greeting_audio=None,
                              remove_greeting_audio: bool = False) -> PhoneNumber:
    """How long the assigned person's softphone rings before voicemail, the greeting spoken there,
    and a recorded greeting played instead (MP3 or WAV, checked by its content). A replaced or
    removed recording's file is deleted once the change is saved."""
    if not isinstance(ring_timeout, int) or not RING_TIMEOUT_MIN <= ring_timeout <= RING_TIMEOUT_MAX:
        raise ValidationError({"ring_timeout": f"Ring for {RING_TIMEOUT_MIN} to {RING_TIMEOUT_MAX} seconds."})
    voicemail_greeting = (voicemail_greeting or "").strip()
    if len(voicemail_greeting) > GREETING_MAX_CHARS:
        raise ValidationError({"voicemail_greeting": f"Keep the greeting under {GREETING_MAX_CHARS} characters."})
    kind, data = _greeting_audio_read(greeting_audio) if greeting_audio is not None else (None, b"")
    with transaction.atomic():
        locked = PhoneNumber.objects.select_for_update().get(organization=organization, pk=number.pk)
        changes, old_file = {}, locked.voicemail_greeting_audio.name or ""
        if locked.ring_timeout != ring_timeout:
            changes["ring_timeout"] = {"from": locked.ring_timeout, "to": ring_timeout}
            locked.ring_timeout = ring_timeout
        if locked.voicemail_greeting != voicemail_greeting:
            changes["voicemail_greeting"] = "changed" if voicemail_greeting else "cleared"
            locked.voicemail_greeting = voicemail_greeting
        if kind is not None:
            # Our own name: the extension says what the bytes are (the greeting route serves by it).
            locked.voicemail_greeting_audio.save(f"{organization.pk}/{uuid.uuid4().hex}.{kind}", ContentFile(data),
                                                 save=False)
            changes["greeting_audio"] = f"{kind.upper()} recording, {max(1, len(data) // 1024)} KB"
        elif remove_greeting_audio and old_file:
            locked.voicemail_greeting_audio = ""
            changes["greeting_audio"] = "removed"
        if changes:
            try:
                locked.save(update_fields=["ring_timeout", "voicemail_greeting", "voicemail_greeting_audio",
                                           "updated_at"])
            except Exception:
                if kind is not None:
                    locked.voicemail_greeting_audio.storage.delete(locked.voicemail_greeting_audio.name)
                raise
            audit(organization=organization, actor=actor, verb="phone_number.voice_settings_changed", target=locked,
                  data=changes)
            if old_file and old_file != (locked.voicemail_greeting_audio.name or ""):
                storage = locked.voicemail_greeting_audio.storage
                transaction.on_commit(lambda: storage.delete(old_file))
    return locked


def phone_number_mark_released(organization: Organization, number: PhoneNumber, actor) -> None:
    """The provider no longer has the number (released there): it stays with us, inactive."""
    label = providers.adapter_class(number.provider).label
    with transaction.atomic():
        PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
            status=NumberStatus.INACTIVE, status_reason=f"Released in {label} (no longer in the account).",
            webhook_configured=False, updated_at=timezone.now())
        audit(organization=organization, actor=actor, verb="phone_number.released_at_provider", target=number)
        lines_changed(number.provider_account.account_sid)


@transaction.atomic
def phone_number_remove(*, organization: Organization, actor, number: PhoneNumber, release: bool = False) -> None:
    """Remove the number from Softphone. If it is on the voice-AI platform it leaves it first (a
    worker, retried); then a worker gives the number back the URLs it had before we took it over,
    or, with `release`, gives the number itself back to the carrier (it leaves the account)."""
    locked = PhoneNumber.objects.select_for_update().get(organization=organization, pk=number.pk)
    audit(organization=organization, actor=actor, verb="phone_number.removal_requested", target=locked,
          data={"release": release})
    locked.status, locked.status_reason = NumberStatus.INACTIVE, "Being released" if release else "Being removed"
    locked.agent = None
    locked.release_at_carrier = release
    locked.platform_state = PlatformState.PENDING if locked.platform_id else PlatformState.NONE
    locked.save(update_fields=["status", "status_reason", "agent", "platform_state", "release_at_carrier",
                               "updated_at"])
    lines_changed(locked.provider_account.account_sid)
    jobs.phone_number_finish_removal(organization.pk, locked.pk)


def phone_number_finish_removal(*, organization: Organization, number: PhoneNumber) -> None:
    if number.platform_id:
        platform_leave(organization=organization, number=number, restore_ours=False)
    account = number.provider_account
    data = {"phone_number": number.phone_number}
    if number.release_at_carrier:
        try:
            providers.for_account(account).release_number(number.provider_sid)
        except ProviderError as exc:
            if not exc.gone:  # released there already: nothing more to give back
                PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
                    status_reason=f"Release failed: {exc.message}", updated_at=timezone.now())
                raise
        with transaction.atomic():
            audit(organization=organization, actor=None, verb="phone_number.released", target=number, data=data)
            PhoneNumber.objects.filter(organization=organization, pk=number.pk).delete()
        return
    if account.webhook_mode == WebhookMode.PER_NUMBER and number.webhook_configured:
        adapter = providers.for_account(account)
        previous = WebhookUrls(sms_url=number.previous_sms_url, status_callback="", voice_url=number.previous_voice_url)
        try:
            try:
                adapter.configure_webhooks(number.provider_sid, previous)
            except ProviderError as exc:
                if not exc.permanent or exc.gone or not (previous.sms_url or previous.voice_url):
                    raise
                # The carrier refuses the old URLs (Vonage takes a URL only if it answers): the number
                # is left pointing nowhere rather than at us, and the history says why.
                adapter.configure_webhooks(number.provider_sid, WebhookUrls(sms_url="", status_callback="",
                                                                            voice_url=""))
                data["previous_urls_not_restored"] = {"sms_url": previous.sms_url, "voice_url": previous.voice_url,
                                                      "reason": exc.message}
        except ProviderError as exc:
            if not exc.gone:  # gone at the provider already: nothing to give back
                PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
                    status_reason=f"Removal failed: {exc.message}", updated_at=timezone.now())
                raise
    with transaction.atomic():
        audit(organization=organization, actor=None, verb="phone_number.removed", target=number, data=data)
        PhoneNumber.objects.filter(organization=organization, pk=number.pk).delete()
