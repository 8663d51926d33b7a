"""Shapes of the `telephony` API. Credentials are write-only inputs; no output carries a secret."""

from rest_framework import serializers

from core.validators import validate_credential, validate_name

from .models import NumberStatus, PhoneNumber, Provider, ProviderAccount, WebhookMode


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
                  "twiml_app_sid", "api_key_sid", "created_at", "updated_at"]
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
    webhook_mode = serializers.ChoiceField(choices=WebhookMode.choices, required=False)
    client_id = serializers.UUIDField(required=False, allow_null=True)


class ProviderAccountPatchSerializer(serializers.Serializer):
    friendly_name = serializers.CharField(max_length=200, required=False, validators=[validate_name])
    webhook_mode = serializers.ChoiceField(choices=WebhookMode.choices, required=False)
    auth_token = serializers.CharField(max_length=200, required=False, write_only=True,
                                       validators=[validate_credential])
    api_key = serializers.CharField(max_length=200, required=False, write_only=True,
                                    validators=[validate_credential])


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
    account_sid = serializers.CharField(max_length=64, validators=[validate_credential])
    auth_token = serializers.CharField(max_length=200, write_only=True, validators=[validate_credential])
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
    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False, default="US")
    number_type = serializers.ChoiceField(choices=["local", "toll_free", "mobile"], required=False, default="local")
    area_code = serializers.RegexField(r"^\d{2,5}$", required=False, allow_blank=True)
    contains = serializers.RegexField(r"^[0-9*A-Za-z]{1,16}$", required=False, allow_blank=True)
    capabilities = serializers.ListField(child=serializers.ChoiceField(choices=["voice", "sms", "mms"]),
                                         required=False, default=list)

    def validate(self, attrs):
        if not attrs.get("provider_account_id") and not (attrs.get("account_sid") and attrs.get("auth_token")):
            raise serializers.ValidationError("Send providerAccountId, or accountSid and authToken.")
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
