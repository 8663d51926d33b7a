"""Shapes of the `telephony` API. Credentials are write-only inputs; no output carries a secret."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.validators import validate_credential, validate_name

from .models import (
    Call,
    CallDirection,
    NumberStatus,
    PhoneNumber,
    Provider,
    ProviderAccount,
    SignatureMethod,
    WebhookMode,
)
from .presentation import call_outcome


class ProviderAccountOutputSerializer(serializers.ModelSerializer):
    client_id = serializers.UUIDField(read_only=True, allow_null=True)
    has_auth_token = serializers.SerializerMethodField()
    has_api_key = serializers.SerializerMethodField()

    class Meta:
        model = ProviderAccount
        # The softphone's TwiML App and API key sids are ids Twilio gave us, shown read-only; the key's
        # secret never leaves the server.
        fields = ["id", "provider", "friendly_name", "account_sid", "client_id", "status", "last_verified_at",
                  "last_error", "webhook_mode", "has_auth_token", "has_api_key", "voice_status", "voice_error",
                  "twiml_app_sid", "api_key_sid", "application_id", "webhooks_configured", "webhooks_drift",
                  "created_at", "updated_at"]
        read_only_fields = fields

    def get_has_auth_token(self, obj) -> bool:
        return bool(obj.auth_token)

    def get_has_api_key(self, obj) -> bool:
        return bool(obj.api_key)


class ProviderAccountInputSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=Provider.choices)
    friendly_name = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                          validators=[validate_name])
    account_sid = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                        validators=[validate_credential])
    auth_token = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True,
                                       validators=[validate_credential])
    api_key = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True,
                                    validators=[validate_credential])
    api_secret = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True,
                                       validators=[validate_credential], help_text="Vonage: the API secret.")
    signature_secret = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True,
                                             validators=[validate_credential],
                                             help_text="Vonage: the signature secret its webhooks are signed with.")
    signature_method = serializers.ChoiceField(choices=SignatureMethod.choices, required=False,
                                               help_text="Vonage: how its webhooks are signed (md5hash by default).")
    account_id = serializers.CharField(max_length=12, required=False, allow_blank=True,
                                       validators=[validate_credential], help_text="Bandwidth: the account id.")
    api_client_id = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                          validators=[validate_credential],
                                          help_text="Bandwidth: the API credential's client id.")
    api_client_secret = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True,
                                              validators=[validate_credential],
                                              help_text="Bandwidth: the API credential's client secret.")
    application_id = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                           validators=[validate_credential],
                                           help_text="Bandwidth: the messaging application the numbers are in.")
    webhook_mode = serializers.ChoiceField(choices=WebhookMode.choices, required=False)
    client_id = serializers.UUIDField(required=False, allow_null=True)


class ProviderAccountPatchSerializer(serializers.Serializer):
    """Names, settings and rotated secrets (each by the carrier's own name for it)."""

    friendly_name = serializers.CharField(max_length=200, required=False, validators=[validate_name])
    webhook_mode = serializers.ChoiceField(choices=WebhookMode.choices, required=False)
    auth_token = serializers.CharField(max_length=200, required=False, write_only=True,
                                       validators=[validate_credential])
    api_key = serializers.CharField(max_length=200, required=False, write_only=True,
                                    validators=[validate_credential])
    api_secret = serializers.CharField(max_length=200, required=False, write_only=True,
                                       validators=[validate_credential], help_text="Vonage: a new API secret.")
    signature_secret = serializers.CharField(max_length=200, required=False, write_only=True,
                                             validators=[validate_credential],
                                             help_text="Vonage: a new signature secret.")
    signature_method = serializers.ChoiceField(choices=SignatureMethod.choices, required=False)
    api_client_id = serializers.CharField(max_length=200, required=False, validators=[validate_credential],
                                          help_text="Bandwidth: another API credential's client id.")
    api_client_secret = serializers.CharField(max_length=200, required=False, write_only=True,
                                              validators=[validate_credential],
                                              help_text="Bandwidth: a new client secret.")


class ProviderAccountVoiceSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="true sets the softphone up on this Twilio account (a TwiML App "
                                                 "and an API key created through Twilio's API); false removes both.")


class PhoneNumberOutputSerializer(serializers.ModelSerializer):
    client_id = serializers.UUIDField(read_only=True, allow_null=True)
    agent_id = serializers.UUIDField(read_only=True, allow_null=True)
    provider_account_id = serializers.UUIDField(read_only=True)
    assigned = serializers.BooleanField(source="is_assigned", read_only=True)

    class Meta:
        model = PhoneNumber
        fields = ["id", "phone_number", "friendly_name", "provider", "provider_account_id", "provider_sid",
                  "client_id", "agent_id", "assigned", "capabilities", "metadata", "source", "status",
                  "status_reason", "webhook_configured", "sms_url", "status_callback_url", "voice_url",
                  "webhook_drift", "platform", "platform_id", "platform_state", "platform_error", "last_verified_at",
                  "created_at", "updated_at"]
        read_only_fields = fields


class PhoneNumberCreateSerializer(serializers.Serializer):
    """Seed 004's `POST /api/{slug}/phone-numbers`."""

    provider = serializers.ChoiceField(choices=Provider.choices)
    phone_number = serializers.CharField(max_length=40)
    friendly_name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                          validators=[validate_name])
    # The account's credentials, as the carrier names them (Twilio: accountSid and authToken; Vonage:
    # apiKey, apiSecret, signatureSecret and signatureMethod).
    account_sid = serializers.CharField(max_length=64, required=False, validators=[validate_credential])
    auth_token = serializers.CharField(max_length=200, required=False, write_only=True,
                                       validators=[validate_credential])
    api_key = serializers.CharField(max_length=64, required=False, validators=[validate_credential])
    api_secret = serializers.CharField(max_length=200, required=False, write_only=True,
                                       validators=[validate_credential])
    signature_secret = serializers.CharField(max_length=200, required=False, write_only=True,
                                             validators=[validate_credential])
    signature_method = serializers.ChoiceField(choices=SignatureMethod.choices, required=False)
    account_id = serializers.CharField(max_length=12, required=False, validators=[validate_credential])
    api_client_id = serializers.CharField(max_length=200, required=False, validators=[validate_credential])
    api_client_secret = serializers.CharField(max_length=200, required=False, write_only=True,
                                              validators=[validate_credential])
    application_id = serializers.CharField(max_length=64, required=False, validators=[validate_credential])
    metadata = serializers.DictField(required=False)
    client_id = serializers.UUIDField(required=False, allow_null=True)


class PhoneNumberPatchSerializer(serializers.Serializer):
    agent_id = serializers.UUIDField(required=False, allow_null=True)
    friendly_name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                          validators=[validate_name])


class PhoneNumberFilterSerializer(serializers.Serializer):
    client_id = serializers.UUIDField(required=False)
    agent_id = serializers.UUIDField(required=False)
    assigned = serializers.BooleanField(required=False, allow_null=True, default=None)
    status = serializers.ChoiceField(choices=NumberStatus.choices, required=False)
    provider_account_id = serializers.UUIDField(required=False)


class AvailableSearchSerializer(serializers.Serializer):
    provider_account_id = serializers.UUIDField(required=False)
    account_sid = serializers.CharField(max_length=64, required=False, validators=[validate_credential])
    auth_token = serializers.CharField(max_length=200, required=False, write_only=True,
                                       validators=[validate_credential])
    api_key = serializers.CharField(max_length=64, required=False, validators=[validate_credential])
    api_secret = serializers.CharField(max_length=200, required=False, write_only=True,
                                       validators=[validate_credential])
    account_id = serializers.CharField(max_length=12, required=False, validators=[validate_credential])
    api_client_id = serializers.CharField(max_length=200, required=False, validators=[validate_credential])
    api_client_secret = serializers.CharField(max_length=200, required=False, write_only=True,
                                              validators=[validate_credential])
    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False, default="US")
    number_type = serializers.ChoiceField(choices=["local", "toll_free", "mobile"], required=False, default="local")
    area_code = serializers.RegexField(r"^\d{2,5}$", required=False, allow_blank=True)
    contains = serializers.RegexField(r"^[0-9*A-Za-z]{1,16}$", required=False, allow_blank=True)
    capabilities = serializers.ListField(child=serializers.ChoiceField(choices=["voice", "sms", "mms"]),
                                         required=False, default=list)

    def validate(self, attrs):
        if not attrs.get("provider_account_id") and not (
            (attrs.get("account_sid") and attrs.get("auth_token")) or (attrs.get("api_key") and attrs.get("api_secret"))
            or (attrs.get("account_id") and attrs.get("api_client_id") and attrs.get("api_client_secret"))
        ):
            raise serializers.ValidationError("Send providerAccountId, or the account's credentials (Twilio: "
                                              "accountSid and authToken; Vonage: apiKey and apiSecret; Bandwidth: "
                                              "accountId, apiClientId and apiClientSecret).")
        return attrs


class AvailableNumberSerializer(serializers.Serializer):
    phone_number = serializers.CharField()
    friendly_name = serializers.CharField()
    iso_country = serializers.CharField()
    region = serializers.CharField()
    locality = serializers.CharField()
    postal_code = serializers.CharField()
    capabilities = serializers.DictField(child=serializers.BooleanField())
    address_requirements = serializers.CharField()


class BuySerializer(serializers.Serializer):
    provider_account_id = serializers.UUIDField()
    phone_number = serializers.CharField(max_length=40)
    client_id = serializers.UUIDField(required=False, allow_null=True)


class ImportSerializer(serializers.Serializer):
    provider_account_id = serializers.UUIDField()
    numbers = serializers.JSONField(help_text='A list of E.164 numbers, or "all".')

    def validate_numbers(self, value):
        if value == "all":
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value) and len(value) <= 10000:
            return value
        raise serializers.ValidationError('Send a list of numbers (up to 10,000), or "all".')


class JobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    status = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField(allow_null=True)
    percent = serializers.IntegerField()
    created = serializers.IntegerField(source="created_count")
    errors = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class CallFilterSerializer(serializers.Serializer):
    """The call log's filters as query parameters: mine, missed, voicemail, phoneNumberId, direction,
    from and to (days, both included)."""

    mine = serializers.BooleanField(required=False, default=False)
    missed = serializers.BooleanField(required=False, default=False)
    voicemail = serializers.BooleanField(required=False, default=False)
    phone_number_id = serializers.UUIDField(required=False)
    direction = serializers.ChoiceField(choices=CallDirection.choices, required=False)

    def get_fields(self):
        fields = super().get_fields()
        # Named as the query parameters are ("from" cannot be an attribute's name).
        fields["from"] = serializers.DateField(required=False, source="date_from")
        fields["to"] = serializers.DateField(required=False, source="date_to")
        return fields

    def validate(self, attrs):
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"from": ["The first day comes after the last one."]})
        return attrs


class CallOutputSerializer(serializers.ModelSerializer):
    """A call as the API shows it. The carrier's recording address (and so its credentials' host)
    stays ours: `recordingUrl` is our own authenticated link to the audio, or null."""

    phone_number_id = serializers.UUIDField(read_only=True, allow_null=True)
    agent_id = serializers.UUIDField(read_only=True, allow_null=True)
    contact_id = serializers.UUIDField(read_only=True, allow_null=True)
    transferred_by_id = serializers.UUIDField(read_only=True, allow_null=True)
    transferred_to_id = serializers.UUIDField(read_only=True, allow_null=True)
    missed = serializers.BooleanField(read_only=True)
    outcome = serializers.SerializerMethodField()
    recording_url = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = ["id", "direction", "status", "outcome", "missed", "voicemail", "from_number", "to_number",
                  "phone_number_id", "agent_id", "contact_id", "provider", "provider_sid", "started_at",
                  "answered_at", "ended_at", "duration", "failure_reason", "recording_url",
                  "recording_duration", "transcript", "summary", "cost", "ended_reason", "notes",
                  "transferred_by_id", "transferred_to_id", "seen_at", "created_at", "updated_at"]
        read_only_fields = fields

    def get_outcome(self, obj) -> str:
        return call_outcome(obj)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_recording_url(self, obj):
        if not obj.recording_url:
            return None
        path = reverse("telephony:call-recording", kwargs={"org_slug": self.context["org_slug"], "call_id": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class CallPlaceSerializer(serializers.Serializer):
    from_number_id = serializers.UUIDField(help_text="One of your numbers that can make calls")
    to = serializers.CharField(max_length=64, help_text="The number to call, e.g. +14155550123")
