"""Shapes of the `messaging` API (camelCase on the wire)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.phones import canonical_contact_number
from core.validators import validate_credential, validate_meta_id, validate_name
from crm.models import Contact
from crm.selectors import LAST_CONTACT

from .models import Conversation, ConversationStatus, Message, WhatsAppSender


class ContactOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "phone_number", "name", "email", "notes", "labels", "whatsapp_profile_name", "wa_id",
                  "profile_image_url", "sms_opted_out_at", "sms_opt_out_source", "whatsapp_opted_out_at",
                  "whatsapp_opt_out_source", "created_at"]
        read_only_fields = fields


class ContactPatchSerializer(serializers.Serializer):
    """What the team may change of a contact (crm.services.contact_update checks it)."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    labels = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=20,
                                   help_text="Replaces the contact's labels.")


class ContactFilterSerializer(serializers.Serializer):
    """The contacts list's filters (the contacts page's)."""

    search = serializers.CharField(required=False, max_length=100)
    label = serializers.CharField(required=False, max_length=50)
    has_open_orders = serializers.BooleanField(required=False)
    opted_out = serializers.BooleanField(required=False)
    last_contact = serializers.ChoiceField(required=False, choices=list(LAST_CONTACT))


class ConversationOutputSerializer(serializers.ModelSerializer):
    contact = ContactOutputSerializer(read_only=True)
    phone_number_id = serializers.UUIDField(read_only=True, allow_null=True)
    whatsapp_sender_id = serializers.UUIDField(read_only=True, allow_null=True)
    assignee_id = serializers.UUIDField(read_only=True, allow_null=True)
    line = serializers.CharField(source="line_label", read_only=True)
    opted_out = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = ["id", "contact", "channel", "phone_number_id", "whatsapp_sender_id", "line", "status",
                  "snoozed_until", "assignee_id", "unread_count", "last_message_at", "last_inbound_at",
                  "last_message_preview", "labels", "opted_out", "created_at"]
        read_only_fields = fields

    def get_opted_out(self, obj) -> bool:
        return obj.contact.opted_out(obj.channel)


class ConversationPatchSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConversationStatus.choices, required=False)
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True)
    assignee_id = serializers.UUIDField(required=False, allow_null=True)
    labels = serializers.ListField(child=serializers.CharField(max_length=50, validators=[validate_name]),
                                   required=False, max_length=30)

    def validate(self, attrs):
        if attrs.get("status") == ConversationStatus.SNOOZED and not attrs.get("snoozed_until"):
            raise serializers.ValidationError({"snoozed_until": "Say until when to snooze."})
        return attrs


class ConversationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConversationStatus.choices, required=False)
    assignee_id = serializers.UUIDField(required=False)
    phone_number_id = serializers.UUIDField(required=False)
    unread = serializers.BooleanField(required=False, default=False)


class MessageOutputSerializer(serializers.ModelSerializer):
    conversation_id = serializers.UUIDField(read_only=True)
    created_by_id = serializers.UUIDField(read_only=True, allow_null=True)
    media = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "conversation_id", "direction", "channel", "body", "media", "media_type", "status",
                  "provider_sid", "error_code", "error_message", "sentiment", "num_segments", "created_by_id",
                  "created_at", "updated_at", "sent_at"]
        read_only_fields = fields

    def get_media(self, obj) -> list[dict]:
        # Inbound media is served by our authenticated view; the provider's URL needs credentials.
        slug = self.context.get("org_slug", "")
        items = []
        for index, item in enumerate(obj.media):
            link = item.get("url", "") if obj.direction == "outbound" else f"/o/{slug}/media/{obj.pk}/{index}/"
            items.append({"url": link, "contentType": item.get("content_type", ""), "type": item.get("type", ""),
                          "caption": item.get("caption", "")})
        return items


class MessagePageSerializer(serializers.Serializer):
    """A conversation's messages, newest page first; `previous` is the query for the older page."""

    results = MessageOutputSerializer(many=True)
    previous = serializers.CharField(allow_null=True, help_text='"?before=<message id>", or null on the oldest page')


class MessageSendSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, max_length=1600, trim_whitespace=False)
    media_urls = serializers.ListField(child=serializers.URLField(), required=False, max_length=10)
    # A WhatsApp template instead of text (the only message allowed 24 hours after the customer's
    # last one): its id (the templates page lists them) and the value of each variable by name.
    template_id = serializers.UUIDField(required=False)
    template_values = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=1000,
                                                                        trim_whitespace=False),
                                            required=False)

    def validate_template_values(self, value: dict) -> dict:
        if len(value) > 50:
            raise serializers.ValidationError("A template has at most 50 variables.")
        return value


class MessageStartSerializer(MessageSendSerializer):
    to = serializers.CharField(max_length=40)
    from_number_id = serializers.UUIDField()

    def validate_to(self, value: str) -> str:
        """The number in the one E.164 form a contact is kept under."""
        try:
            return canonical_contact_number(value)
        except DjangoValidationError:
            raise serializers.ValidationError(
                f"'{value}' is not a valid phone number. Use E.164, e.g. +14155551234.") from None


class WhatsAppSenderOutputSerializer(serializers.ModelSerializer):
    """A sender as lists show it: no secret, and not its verify token (the detail has that)."""

    has_access_token = serializers.SerializerMethodField()
    has_app_secret = serializers.SerializerMethodField()
    client_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = WhatsAppSender
        fields = ["id", "name", "client_id", "phone_number_id", "display_phone_number", "business_account_id",
                  "verified_name",
                  "quality_rating", "is_active", "status", "last_error", "last_checked_at", "webhook_verified_at",
                  "last_webhook_at", "has_access_token", "has_app_secret", "created_at", "updated_at"]
        read_only_fields = fields

    def get_has_access_token(self, obj) -> bool:
        return bool(obj.access_token)

    def get_has_app_secret(self, obj) -> bool:
        return bool(obj.app_secret)


class WhatsAppSenderDetailSerializer(WhatsAppSenderOutputSerializer):
    """One sender, with what to paste into Meta's console: the webhook URL and its verify token."""

    webhook_url = serializers.SerializerMethodField()

    class Meta(WhatsAppSenderOutputSerializer.Meta):
        fields = [*WhatsAppSenderOutputSerializer.Meta.fields, "webhook_url", "verify_token"]
        read_only_fields = fields

    def get_webhook_url(self, obj) -> str:
        return self.context["webhook_url"]


class WhatsAppSenderInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, validators=[validate_name])
    phone_number_id = serializers.CharField(max_length=64, validators=[validate_meta_id])
    business_account_id = serializers.CharField(max_length=64, validators=[validate_meta_id])
    access_token = serializers.CharField(max_length=1000, write_only=True, validators=[validate_credential])
    app_secret = serializers.CharField(max_length=200, write_only=True, validators=[validate_credential])
    client_id = serializers.UUIDField(required=False, allow_null=True,
                                      help_text="The client this number writes for (none: the organization's own).")


class WhatsAppSenderPatchSerializer(serializers.Serializer):
    """Secrets are replaced only when sent; `isActive` switches the sender off or on."""

    name = serializers.CharField(max_length=200, required=False, validators=[validate_name])
    business_account_id = serializers.CharField(max_length=64, required=False, validators=[validate_meta_id])
    access_token = serializers.CharField(max_length=1000, required=False, write_only=True,
                                         validators=[validate_credential])
    app_secret = serializers.CharField(max_length=200, required=False, write_only=True,
                                       validators=[validate_credential])
    is_active = serializers.BooleanField(required=False)
    client_id = serializers.UUIDField(required=False, allow_null=True,
                                      help_text="The client this number writes for (null: the organization's own).")


class SearchFilterSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=500, trim_whitespace=True,
                              error_messages={"blank": "Write what to search for.", "required": "Write what to search for."})
    mode = serializers.ChoiceField(choices=["both", "meaning", "words"], required=False, default="both",
                                   error_messages={"invalid_choice": '"{input}" is not a mode: use meaning, words or both.'})
    limit = serializers.IntegerField(min_value=1, max_value=50, required=False, default=20)


class SearchHitSerializer(serializers.Serializer):
    message = MessageOutputSerializer()
    conversation = ConversationOutputSerializer(source="message.conversation")
    matched_by = serializers.ListField(child=serializers.ChoiceField(choices=["words", "meaning"]),
                                       help_text="How the message matched: by its words, by its meaning, or both.")
    score = serializers.FloatField(help_text="Reciprocal rank fusion score: higher is better.")
    distance = serializers.FloatField(allow_null=True, help_text="Cosine distance to the query (by meaning), 0 to 2.")


class SearchResultSerializer(serializers.Serializer):
    mode = serializers.CharField()
    model = serializers.CharField(help_text="The embedding model that compared meanings.")
    meaning_unavailable = serializers.CharField(
        allow_blank=True, help_text="Why meaning was left out of these results (mode both); empty when it was not.")
    results = SearchHitSerializer(many=True)
