"""WhatsApp Cloud API senders, connected by their organization's owners and admins: checked with Meta
before anything is saved (as Twilio accounts are), checked again daily, switched off and on, removed.

A sender's access token and app secret are write-only: stored encrypted, never shown, logged or
audited (the history names the fields that changed, never their values). Its verify token is
ours, generated here, and shown to the organization's managers to paste into Meta's console.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from messaging.models import Conversation, SenderStatus, WhatsAppSender
from messaging.providers import WHATSAPP_SENDER_PROVIDER, adapter_class
from messaging.providers.base import WHATSAPP_SENDERS, CredentialsRejected, ProviderError, SenderCheck
from tenants.models import Organization
from tenants.services import audit

TAKEN = ("This WhatsApp number is already connected to Softphone, in another organization. It can be "
         "connected here once it is removed there.")
UNREACHABLE = "Meta could not be reached to check the sender; nothing was saved. Try again shortly."
# A signed POST is recorded at most this often per sender: the webhook stays one read on the busy path.
WEBHOOK_SEEN_EVERY = timedelta(minutes=1)


def webhook_url() -> str:
    """The callback URL to paste into Meta's console: our public address and the route we serve."""
    return settings.PUBLIC_BASE_URL + reverse("webhooks:whatsapp")


def sender_problem(sender: WhatsAppSender) -> str:
    """Why a sender may not send, in words for the team ('' when it may)."""
    if not sender.is_active:
        return "This WhatsApp sender is switched off."
    if sender.status == SenderStatus.TOKEN_EXPIRED:
        return ("This WhatsApp sender's access token has expired or was revoked: an owner or admin must enter a "
                "new one on the sender's page.")
    if sender.status == SenderStatus.NOT_VERIFIED:
        return " ".join(["This WhatsApp sender's number is not verified by Meta yet.", sender.last_error]).strip()
    if sender.status == SenderStatus.ERROR:
        return f"This WhatsApp sender cannot send: {sender.last_error or 'Meta reported a problem.'}"
    return ""


def _check(*, phone_number_id: str, access_token: str, business_account_id: str) -> SenderCheck:
    adapter = adapter_class(WHATSAPP_SENDER_PROVIDER, lines=WHATSAPP_SENDERS)
    return adapter.for_sender(line=phone_number_id, access_token=access_token).sender_check(
        business_account_id=business_account_id)


def _verified(*, phone_number_id: str, access_token: str, business_account_id: str) -> SenderCheck:
    """Credentials a person typed, checked with Meta: ValidationError on the field at fault."""
    try:
        check = _check(phone_number_id=phone_number_id, access_token=access_token,
                       business_account_id=business_account_id)
    except CredentialsRejected as exc:
        raise ValidationError({"access_token": exc.message}) from None
    except ProviderError as exc:
        # The message names the id Meta could not read (the phone number's or the business account's).
        raise ValidationError({"credentials": exc.message if exc.permanent else UNREACHABLE}) from None
    if not check.in_business_account:
        raise ValidationError({"business_account_id": f"Phone number id {phone_number_id} is not a number of "
                                                      f"WhatsApp Business Account {business_account_id}."})
    return check


def _status_of(check: SenderCheck) -> tuple[str, str]:
    if not check.verified:
        return SenderStatus.NOT_VERIFIED, (f"Meta reports its code verification status as "
                                           f"{check.verification_status or 'unknown'}; finish registering the "
                                           f"number in WhatsApp Manager.")
    return SenderStatus.ACTIVE, ""


def _apply(sender: WhatsAppSender, check: SenderCheck, now) -> None:
    sender.display_phone_number = check.display_phone_number or sender.display_phone_number
    sender.verified_name, sender.quality_rating = check.verified_name, check.quality_rating
    sender.status, sender.last_error = _status_of(check)
    sender.last_checked_at = now


UNCHANGED = object()


def _client_of(organization: Organization, client):
    if client is not None and client.organization_id != organization.pk:
        raise ValidationError({"client": "No client of this organization has that id."})
    return client


def whatsapp_sender_connect(*, organization: Organization, actor, name: str, phone_number_id: str,
                            business_account_id: str, access_token: str, app_secret: str,
                            client=None) -> WhatsAppSender:
    """Check the credentials with Meta, then save the sender with a new verify token. Credentials Meta
    refuses save nothing; a number it has not verified yet is saved as `not_verified`, with the reason."""
    phone_number_id, business_account_id = phone_number_id.strip(), business_account_id.strip()
    client = _client_of(organization, client)
    mine = WhatsAppSender.objects.filter(organization=organization, phone_number_id=phone_number_id).first()
    if mine is not None:
        raise ValidationError({"phone_number_id": f"This number is already connected here, as “{mine.name}”."})
    # Meta first: only someone holding a valid token for the number learns whether it is taken elsewhere.
    check = _verified(phone_number_id=phone_number_id, access_token=access_token,
                      business_account_id=business_account_id)
    sender = WhatsAppSender(organization=organization, name=name.strip(), phone_number_id=phone_number_id,
                            business_account_id=business_account_id, access_token=access_token,
                            app_secret=app_secret, verify_token=secrets.token_urlsafe(32), client=client)
    _apply(sender, check, timezone.now())
    try:
        with transaction.atomic():
            sender.save()
    except IntegrityError:
        # phone_number_id is unique across tenants (it routes webhooks): the other row stays unseen.
        raise ValidationError({"phone_number_id": TAKEN}) from None
    audit(organization=organization, actor=actor, verb="whatsapp_sender.connected", target=sender,
          data={"phone_number_id": phone_number_id, "status": sender.status})
    return sender


def whatsapp_sender_update(*, organization: Organization, actor, sender: WhatsAppSender, name: str | None = None,
                           business_account_id: str | None = None, access_token: str = "",
                           app_secret: str = "", client=UNCHANGED) -> WhatsAppSender:
    """Rename, move to a client (None: the organization's own), or replace credentials: an empty secret
    keeps the stored one. A new token or business
    account is checked with Meta before anything changes (with the stored token when none is given)."""
    business_account_id = None if business_account_id is None else business_account_id.strip()
    check = None
    if access_token or (business_account_id is not None and business_account_id != sender.business_account_id):
        check = _verified(phone_number_id=sender.phone_number_id, access_token=access_token or sender.access_token or "",
                          business_account_id=business_account_id if business_account_id is not None
                          else sender.business_account_id)
    with transaction.atomic():
        locked = WhatsAppSender.objects.select_for_update().get(organization=organization, pk=sender.pk)
        changed = []
        for field, value in (("name", None if name is None else name.strip()),
                             ("business_account_id", business_account_id)):
            if value is not None and getattr(locked, field) != value:
                setattr(locked, field, value)
                changed.append(field)
        for field, value in (("access_token", access_token), ("app_secret", app_secret)):
            if value:
                setattr(locked, field, value)
                changed.append(field)
        if client is not UNCHANGED and locked.client_id != getattr(_client_of(organization, client), "pk", None):
            locked.client = client
            changed.append("client")
        if check is not None:
            _apply(locked, check, timezone.now())
        if changed:
            locked.save()
            # Field names only: the values of secrets never reach the history.
            audit(organization=organization, actor=actor, verb="whatsapp_sender.updated", target=locked,
                  data={"fields": changed})
    return locked


def whatsapp_sender_switch(*, organization: Organization, actor, sender: WhatsAppSender,
                           active: bool) -> WhatsAppSender:
    """Switch a sender off (nothing is sent through it, Meta's webhooks for it are refused) or on."""
    with transaction.atomic():
        locked = WhatsAppSender.objects.select_for_update().get(organization=organization, pk=sender.pk)
        if locked.is_active != active:
            locked.is_active = active
            locked.save(update_fields=["is_active", "updated_at"])
            audit(organization=organization, actor=actor, target=locked,
                  verb="whatsapp_sender.switched_on" if active else "whatsapp_sender.switched_off")
    return locked


def whatsapp_sender_delete(*, organization: Organization, actor, sender: WhatsAppSender) -> None:
    """Remove a sender no conversation goes through; one with conversations can only be switched off
    (removing it would delete them)."""
    with transaction.atomic():
        locked = WhatsAppSender.objects.select_for_update().filter(organization=organization, pk=sender.pk).first()
        if locked is None:
            return
        count = Conversation.objects.filter(organization=organization, whatsapp_sender=locked).count()
        if count:
            raise ValidationError(f"{locked.name} has {count} conversation(s): removing it would delete them. "
                                  "Switch it off instead.")
        audit(organization=organization, actor=actor, verb="whatsapp_sender.removed", target=locked,
              data={"phone_number_id": locked.phone_number_id})
        WhatsAppSender.objects.filter(organization=organization, pk=locked.pk).delete()


def whatsapp_sender_check(*, organization: Organization, sender: WhatsAppSender) -> WhatsAppSender:
    """Ask Meta about a stored sender (daily, from beat, or on demand) and record what it says: its
    token refused → token_expired; its number not verified → not_verified; any other refusal →
    error, with the reason. A transient failure changes nothing and is raised, for a retry."""
    try:
        check = _check(phone_number_id=sender.phone_number_id, access_token=sender.access_token or "",
                       business_account_id=sender.business_account_id)
    except CredentialsRejected as exc:
        check, status, problem = None, SenderStatus.TOKEN_EXPIRED, exc.message
    except ProviderError as exc:
        if not exc.permanent:
            raise
        check, status, problem = None, SenderStatus.ERROR, exc.message
    now = timezone.now()
    with transaction.atomic():
        locked = WhatsAppSender.objects.select_for_update().get(organization=organization, pk=sender.pk)
        before = locked.status
        if check is not None:
            _apply(locked, check, now)
            if locked.business_account_id and not check.in_business_account:
                locked.status = SenderStatus.ERROR
                locked.last_error = (f"Meta no longer lists this number in WhatsApp Business Account "
                                     f"{locked.business_account_id}.")
        else:
            locked.status, locked.last_error, locked.last_checked_at = status, problem, now
        locked.save(update_fields=["display_phone_number", "verified_name", "quality_rating", "status", "last_error",
                                   "last_checked_at", "updated_at"])
        if locked.status != before:
            audit(organization=organization, actor=None, verb="whatsapp_sender.status_changed", target=locked,
                  data={"from": before, "to": locked.status, "reason": locked.last_error})
    return locked


def whatsapp_sender_webhook_verified(*, organization: Organization, sender: WhatsAppSender) -> None:
    """Meta completed the subscription handshake with this sender's verify token: the first time is
    kept (it is when the webhook was set up)."""
    first = WhatsAppSender.objects.filter(organization=organization, pk=sender.pk,
                                          webhook_verified_at__isnull=True).update(webhook_verified_at=timezone.now())
    if first:
        audit(organization=organization, actor=None, verb="whatsapp_sender.webhook_verified", target=sender)


def whatsapp_sender_webhook_seen(*, organization: Organization, sender: WhatsAppSender) -> None:
    """Meta sent a POST signed with this sender's app secret: recorded at most once a minute."""
    now = timezone.now()
    if sender.last_webhook_at and now - sender.last_webhook_at < WEBHOOK_SEEN_EVERY:
        return
    WhatsAppSender.objects.filter(organization=organization, pk=sender.pk).update(last_webhook_at=now)
