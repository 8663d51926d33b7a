"""Provider accounts, phone numbers and (later) calls.

Seeds 000 (workspace Twilio credentials, workspace and agent numbers), 001 (phone_numbers with
client, agent, platform and platform_id), 002 (twilio_numbers, workspace_twilio_config) and 004
(phone_numbers with provider, credentials, metadata, webhook and verification state) meet here.
Credentials live once, encrypted, on the provider account, never copied onto each number.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from fernet_fields import EncryptedTextField

from tenants.models import Agent, Client, TenantModel


class Provider(models.TextChoices):
    TWILIO = "twilio", "Twilio"
    VAPI = "vapi", "VAPI"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    ERROR = "error", "Error"


class WebhookMode(models.TextChoices):
    # We point each number's SMS, status-callback and voice URLs at our webhooks (the default).
    PER_NUMBER = "per_number", "Per number"
    # The customer routes the whole account (a Messaging Service or TwiML App) to our webhooks
    # themselves; we leave each number's own URLs alone and do not report them as drift.
    GLOBAL = "global", "Global (account-wide)"


class ProviderAccount(TenantModel):
    """A vendor account the organization connected: Twilio (numbers, SMS, voice) or VAPI (AI voice)."""

    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    friendly_name = models.CharField(max_length=200)
    # Twilio: the account SID is an identifier, not a secret; webhooks find the account by it.
    account_sid = models.CharField(max_length=64, blank=True)
    auth_token = EncryptedTextField(null=True, blank=True)
    api_key_sid = models.CharField("API key SID", max_length=64, blank=True)
    api_key_secret = EncryptedTextField(null=True, blank=True)
    twiml_app_sid = models.CharField("TwiML App SID", max_length=64, blank=True)
    # VAPI: the private API key.
    api_key = EncryptedTextField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    webhook_mode = models.CharField(max_length=12, choices=WebhookMode.choices, default=WebhookMode.PER_NUMBER)
    created_by = models.ForeignKey("tenants.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "friendly_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider", "account_sid"], condition=~Q(account_sid=""),
                name="provider_account_sid_unique_per_org",
            ),
            models.CheckConstraint(
                condition=Q(provider="vapi") | ~Q(account_sid=""), name="provider_account_twilio_has_sid"
            ),
        ]
        indexes = [
            # Webhooks: which account signed this? account_sid = ? (across tenants, before a scope)
            models.Index(fields=["account_sid"], name="provider_account_sid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()}: {self.friendly_name}"

    @property
    def masked_sid(self) -> str:
        return f"{self.account_sid[:6]}…{self.account_sid[-4:]}" if self.account_sid else ""


class NumberStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"  # released at the provider, or disabled by us
    ERROR = "error", "Error"


class Platform(models.TextChoices):
    NONE = "", "None"
    VAPI = "vapi", "VAPI"


class PlatformState(models.TextChoices):
    """Where the number stands with the voice-AI platform, against what its agent wants."""

    NONE = "", "Not on a platform"
    PENDING = "pending", "Syncing"
    SYNCED = "synced", "In sync"
    ERROR = "error", "Sync failed"


class PhoneNumber(TenantModel):
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.CASCADE, related_name="phone_numbers")
    provider_account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="phone_numbers")
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.TWILIO)
    phone_number = models.CharField(max_length=20, help_text="E.164, e.g. +14155551234")
    friendly_name = models.CharField(max_length=100, blank=True)
    provider_sid = models.CharField(max_length=64, blank=True, help_text="Twilio's PN… id")
    capabilities = models.JSONField(default=dict, blank=True)  # {"voice", "sms", "mms", "fax"}: bool
    metadata = models.JSONField(default=dict, blank=True)  # iso_country, region, locality, area_code, number_type
    source = models.CharField(max_length=20, blank=True, help_text="imported, bought or added (seed 001)")
    status = models.CharField(max_length=10, choices=NumberStatus.choices, default=NumberStatus.ACTIVE)
    status_reason = models.TextField(blank=True)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="phone_numbers")

    # Webhooks: what we set, what the number had before we took it over, and drift we noticed.
    webhook_configured = models.BooleanField(default=False)
    sms_url = models.URLField(max_length=500, blank=True)
    status_callback_url = models.URLField(max_length=500, blank=True)
    voice_url = models.URLField(max_length=500, blank=True)
    previous_sms_url = models.CharField(max_length=500, blank=True)
    previous_voice_url = models.CharField(max_length=500, blank=True)
    webhook_drift = models.TextField(blank=True, help_text="What the provider has that we did not set")

    # Voice-AI platform (seed 001: platform, platform_id).
    platform = models.CharField(max_length=20, choices=Platform.choices, blank=True, default=Platform.NONE)
    platform_id = models.CharField(max_length=100, blank=True)
    platform_state = models.CharField(max_length=10, choices=PlatformState.choices, blank=True,
                                      default=PlatformState.NONE)
    platform_error = models.TextField(blank=True)

    # Sending pace: message segments per second (a US long code takes about one).
    send_rate = models.FloatField(default=1.0, help_text="Message segments per second this number may send")
    last_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["phone_number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "phone_number"], name="phone_number_unique_per_org"),
            # One live number is one line: webhooks find the tenant by the called number.
            models.UniqueConstraint(
                fields=["phone_number"], condition=~Q(status="inactive"), name="phone_number_live_once"
            ),
        ]
        indexes = [
            # Numbers list: organization_id = ? [and status/agent/client] order by phone_number
            models.Index(fields=["organization", "status", "phone_number"], name="number_org_status_idx"),
            # An agent's numbers (seed 001): agent_id = ?
            models.Index(fields=["agent"], name="number_agent_idx"),
            # A client's unassigned numbers (seed 001): client_id = ? and agent_id is null
            models.Index(fields=["client"], condition=Q(agent__isnull=True), name="number_client_unassigned_idx"),
            # Platform sweeper: platform_state in ('pending', 'error')
            models.Index(fields=["platform_state"], condition=~Q(platform_state=""), name="number_platform_state_idx"),
        ]

    def __str__(self) -> str:
        return self.phone_number

    @property
    def is_assigned(self) -> bool:
        return self.agent_id is not None

    def can(self, capability: str) -> bool:
        return bool(self.capabilities.get(capability))
