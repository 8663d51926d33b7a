"""Conversations and messages over SMS, MMS and WhatsApp (seeds 002 and 003).

Seed 002's `contacts.conversation_status` and `unread_count` live on Conversation (a person can talk
to several of our numbers); seed 003's per-agent message tables are rows here keyed by organization.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from fernet_fields import EncryptedTextField
from pgvector.django import VectorField

from crm.models import Channel, Contact
from telephony.models import PhoneNumber, ProviderAccount
from tenants.access import TenantManager
from tenants.models import Agent, Organization, TenantModel, WithoutSearchVectorManager


class SenderStatus(models.TextChoices):
    """What Meta last said of a WhatsApp sender (checked when connected, daily, and on demand)."""

    ACTIVE = "active", "Active"
    TOKEN_EXPIRED = "token_expired", "Token expired"
    NOT_VERIFIED = "not_verified", "Not verified"
    ERROR = "error", "Error"


class WhatsAppSender(TenantModel):
    """A WhatsApp Business number on the Cloud API (seed 003's whatsapp_configuration, per
    organization rather than per user, with its secrets encrypted)."""

    name = models.CharField(max_length=200)
    display_phone_number = models.CharField(max_length=20)
    # The client this sender writes for (its conversations are that client's); none: the organization's own.
    client = models.ForeignKey("tenants.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Meta's ids. phone_number_id routes webhooks to the tenant, so it is unique across tenants.
    phone_number_id = models.CharField(max_length=64, unique=True)
    business_account_id = models.CharField(max_length=64, blank=True)
    access_token = EncryptedTextField(null=True, blank=True)
    app_secret = EncryptedTextField(null=True, blank=True)
    verify_token = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    # The last reading of the business account's message templates (messaging.services.templates).
    templates_synced_at = models.DateTimeField(null=True, blank=True)
    templates_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Meta's answer (messaging.services.senders): sending is refused unless `status` is active.
    status = models.CharField(max_length=20, choices=SenderStatus.choices, default=SenderStatus.ACTIVE)
    last_error = models.TextField(blank=True, default="")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    verified_name = models.CharField(max_length=200, blank=True, default="")
    quality_rating = models.CharField(max_length=20, blank=True, default="")
    # The webhook: Meta's first subscription handshake with this verify token, and its last signed POST.
    webhook_verified_at = models.DateTimeField(null=True, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_phone_number})"


class TemplateProvider(models.TextChoices):
    WHATSAPP_CLOUD = "whatsapp_cloud", "WhatsApp Cloud API"
    TWILIO = "twilio", "Twilio (Content API)"


class TemplateStatus(models.TextChoices):
    """Meta's review states of a message template (Twilio reports the same ones for WhatsApp), and
    ours for one that left the vendor's list."""

    APPROVED = "approved", "Approved"
    PENDING = "pending", "Pending review"
    IN_APPEAL = "in_appeal", "In appeal"
    REJECTED = "rejected", "Rejected"
    PAUSED = "paused", "Paused"
    DISABLED = "disabled", "Disabled"
    PENDING_DELETION = "pending_deletion", "Being deleted"
    ARCHIVED = "archived", "Archived"
    LIMIT_EXCEEDED = "limit_exceeded", "Over the template limit"
    DELETED = "deleted", "Deleted"
    UNKNOWN = "unknown", "Unknown"


class WhatsAppTemplate(TenantModel):
    """A WhatsApp message template as the vendor approved it (seed 003's templates): the only kind of
    message WhatsApp lets a business send more than 24 hours after the customer last wrote. Synced,
    never edited here: Meta reviews every change. Templates belong to a WhatsApp Business Account
    (every sender of that account can use them) or, through Twilio, to a Twilio account."""

    provider = models.CharField(max_length=20, choices=TemplateProvider.choices)
    business_account_id = models.CharField(max_length=64, blank=True)  # the WABA (Cloud API)
    provider_account = models.ForeignKey(ProviderAccount,
                                         null=True, blank=True, on_delete=models.CASCADE,
                                         related_name="whatsapp_templates")  # Twilio
    external_id = models.CharField(max_length=64)  # Meta's template id, or Twilio's content SID (HX...)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=20)
    category = models.CharField(max_length=30, blank=True)
    status = models.CharField(max_length=20, choices=TemplateStatus.choices)
    status_reason = models.CharField(max_length=500, blank=True)  # why rejected or paused, as the vendor says
    parameter_format = models.CharField(max_length=10, default="positional")  # positional | named
    header = models.TextField(blank=True)
    body = models.TextField(blank=True)
    footer = models.TextField(blank=True)
    # What an agent fills in: [{"component": "header" | "body", "name": "1" | "first_name", "example": ""}]
    parameters = models.JSONField(default=list, blank=True)
    # Set when the template needs something the composer cannot give (a header picture, a link
    # button with a variable): it is listed, never offered.
    unsupported = models.CharField(max_length=300, blank=True)
    components = models.JSONField(default=list, blank=True)  # as the vendor sent them
    synced_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "provider", "external_id"], name="wa_template_unique"),
        ]
        indexes = [
            # The composer: organization_id = ? and business_account_id = ? (or provider_account_id) by name
            models.Index(fields=["organization", "business_account_id", "name"], name="wa_template_waba_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def sendable(self) -> bool:
        return self.status == TemplateStatus.APPROVED and not self.unsupported


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    SNOOZED = "snoozed", "Snoozed"
    DONE = "done", "Done"


class Conversation(TenantModel):
    # A row of a search by meaning carries the message that matched (messaging.selectors._meaning_page);
    # every other row has none (a class attribute, so templates need not catch a missing one).
    hit = None

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # Our side: a phone number (SMS, MMS, WhatsApp through Twilio) or a WhatsApp Cloud API sender.
    phone_number = models.ForeignKey(PhoneNumber, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="conversations")
    whatsapp_sender = models.ForeignKey(WhatsAppSender, null=True, blank=True, on_delete=models.CASCADE,
                                        related_name="conversations")
    status = models.CharField(max_length=10, choices=ConversationStatus.choices, default=ConversationStatus.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="conversations")
    unread_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)  # opens WhatsApp's 24-hour window
    last_message_preview = models.CharField(max_length=200, blank=True)
    labels = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(phone_number__isnull=False, whatsapp_sender__isnull=True)
                | Q(phone_number__isnull=True, whatsapp_sender__isnull=False),
                name="conversation_has_exactly_one_line",
            ),
            models.UniqueConstraint(fields=["organization", "contact", "channel", "phone_number"],
                                    condition=Q(phone_number__isnull=False), name="conversation_one_per_number"),
            models.UniqueConstraint(fields=["organization", "contact", "whatsapp_sender"],
                                    condition=Q(whatsapp_sender__isnull=False), name="conversation_one_per_sender"),
        ]
        indexes = [
            # Inbox list: organization_id = ? and status = ? order by last_message_at desc
            models.Index(fields=["organization", "status", "-last_message_at"], name="conv_org_status_recent_idx"),
            # "Mine": organization_id = ? and assignee_id = ? and status = ? order by last_message_at desc
            models.Index(fields=["organization", "assignee", "status", "-last_message_at"],
                         name="conv_assignee_recent_idx"),
            # Filter by our number: organization_id = ? and phone_number_id = ? order by last_message_at desc
            models.Index(fields=["organization", "phone_number", "-last_message_at"], name="conv_number_recent_idx"),
            # Every status (search): organization_id = ? order by last_message_at desc
            models.Index(fields=["organization", "-last_message_at"], name="conv_org_recent_idx"),
            # Live inbox: organization_id = ? and updated_at > ? (what changed since the tab last looked)
            models.Index(fields=["organization", "updated_at"], name="conv_org_updated_idx"),
            # Unread total and the unread filter: organization_id = ? and unread_count > 0
            models.Index(fields=["organization", "-last_message_at"], condition=Q(unread_count__gt=0),
                         name="conv_unread_recent_idx"),
            # Label filter: organization_id = ? and labels @> array[?]
            GinIndex(fields=["labels"], name="conv_labels_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} via {self.line_label}"

    @property
    def line_label(self) -> str:
        return str(self.phone_number or self.whatsapp_sender)


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"
    # A private note of the team's in the thread: stored like a message, never sent (nothing that
    # sends looks at anything but outbound rows).
    NOTE = "note", "Private note"


class MessageChannel(models.TextChoices):
    SMS = "sms", "SMS"
    MMS = "mms", "MMS"
    WHATSAPP = "whatsapp", "WhatsApp"


class MediaType(models.TextChoices):
    NONE = "none", "None"
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    AUDIO = "audio", "Audio"
    DOCUMENT = "document", "Document"
    STICKER = "sticker", "Sticker"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    READ = "read", "Read"
    RECEIVED = "received", "Received"


# A status only moves forward: callbacks arrive late, twice and out of order.
STATUS_RANK = {
    MessageStatus.PENDING: 0, MessageStatus.QUEUED: 1, MessageStatus.SENDING: 2, MessageStatus.SENT: 3,
    MessageStatus.UNDELIVERED: 4, MessageStatus.FAILED: 4, MessageStatus.DELIVERED: 5, MessageStatus.READ: 6,
    MessageStatus.RECEIVED: 6,
}


class MessageManager(WithoutSearchVectorManager):
    """Messages without their search vector and embedding (a row's largest columns, read only in SQL)."""

    def get_queryset(self):
        return super().get_queryset().defer("embedding")


class Message(TenantModel):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    channel = models.CharField(max_length=10, choices=MessageChannel.choices)
    body = models.TextField(blank=True)
    # [{"url", "content_type", "type", "caption"}]; inbound Twilio media URLs need the account's
    # credentials, so pages link to our media view instead of these URLs.
    media = models.JSONField(default=list, blank=True)
    media_type = models.CharField(max_length=10, choices=MediaType.choices, default=MediaType.NONE)
    status = models.CharField(max_length=12, choices=MessageStatus.choices)
    # MessageSid / wamid; NULL until sent, as many unsent messages may share "no id yet".
    provider_sid = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    error_code = models.CharField(max_length=20, blank=True)
    error_message = models.TextField(blank=True)
    sentiment = models.FloatField(null=True, blank=True)
    num_segments = models.PositiveSmallIntegerField(default=1)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A WhatsApp template message: which template, and the values its parameters were given
    # ({"1": "Ann"} or {"first_name": "Ann"}); `body` holds the text as the customer reads it.
    template = models.ForeignKey(WhatsAppTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # db_default: the inbound drain inserts messages in SQL, naming only the columns it fills.
    template_values = models.JSONField(default=dict, blank=True,
                                       db_default=models.Value({}, output_field=models.JSONField()))
    # Full-text search of the inbox ('simple': no stemming, so names, order numbers and any
    # language match as typed).
    search_vector = models.GeneratedField(expression=SearchVector("body", config="simple"),
                                          output_field=SearchVectorField(), db_persist=True)
    # Search by meaning (seed 002: embedding vector(1536)): the text's vector at its model's own
    # dimensions (256 for the offline model, 1536 for text-embedding-3-small; never padded: 1,536
    # floats for a 256-dimension model were 6 KB a message, migration 0016), made by a worker after the
    # message is stored (messaging.services.meaning), with the model that made it (rows of different
    # models are never compared) and when. Empty model: not embedded yet.
    embedding = VectorField(dimensions=None, null=True, blank=True)
    embedding_model = models.CharField(max_length=100, blank=True, default="", db_default="")
    embedding_dimensions = models.PositiveSmallIntegerField(null=True, blank=True)
    embedded_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager(MessageManager)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            # Duplicate webhooks are harmless: one row per provider id.
            models.UniqueConstraint(fields=["provider_sid"], name="message_provider_sid_unique"),
            models.CheckConstraint(condition=Q(sentiment__isnull=True) | Q(sentiment__gte=-1, sentiment__lte=1),
                                   name="message_sentiment_range"),
        ]
        indexes = [
            # Thread: conversation_id = ? order by created_at desc limit 50
            models.Index(fields=["conversation", "-created_at"], name="message_thread_idx"),
            # Sweeper: status in ('pending', 'sending') and updated_at < ?
            models.Index(fields=["status", "updated_at"], condition=Q(status__in=["pending", "sending"]),
                         name="message_unsettled_idx"),
            # Inbox search: organization_id = ? and search_vector @@ to_tsquery(?)
            GinIndex(fields=["search_vector"], name="message_search_idx"),
            # Waiting to be embedded: organization_id = ? and embedding_model = '' and body <> '' order by id
            models.Index(fields=["organization", "id"], condition=Q(embedding_model="") & ~Q(body=""),
                         name="message_unembedded_idx"),
            # Search by meaning: one HNSW index per embedding model, on that model's own dimensions
            # (migrations 0013 and 0016; search.vector_expression).
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.channel} {self.status}"


class InboundEvent(TenantModel):
    """A provider's inbound message exactly as it arrived, stored before we answer.

    The webhook writes only this row (one insert; a repeated MessageSid inserts nothing) and a
    worker turns it into contact, conversation and message. Answering fast keeps Twilio from timing
    out, and the row means nothing is lost if the worker or the broker is down meanwhile.
    """

    # A write-once log on the webhook's hot path, so it carries no foreign-key constraints and no
    # index beyond the three below: a foreign-key check takes a share lock on the organization's and
    # the number's rows, and every concurrent webhook of one organization would queue on the same
    # two rows. The ids come from our own lookup, never from the request; the organization is
    # still enforced by row-level security, and deleting an organization still deletes its events.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False,
                                     db_index=False)
    provider = models.CharField(max_length=20)
    provider_sid = models.CharField(max_length=128)
    # The number may be removed before the event is processed; processing then skips it.
    phone_number = models.ForeignKey(PhoneNumber, null=True, blank=True, on_delete=models.DO_NOTHING,
                                     related_name="+", db_constraint=False, db_index=False)
    payload = models.JSONField()
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    # Processing that failed (docs/architecture.md, "An event that fails"): how many times it was
    # tried, the last error, when it is tried again, and when it was set aside for good. The webhook's
    # insert (messaging_inbound_event_insert) names none of these columns: the database's defaults
    # fill them.
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    last_error = models.TextField(blank=True, default="", db_default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at"]
        constraints = [
            # Duplicate webhooks are harmless: one row per provider id (no LIKE index beside it).
            models.UniqueConstraint(fields=["provider_sid"], name="inbound_event_provider_sid_unique"),
        ]
        indexes = [
            # Drain and sweeper: organization_id = ? and processed_at is null and failed_at is null
            # [and (next_attempt_at is null or next_attempt_at <= ?)] order by received_at
            models.Index(fields=["organization", "received_at"],
                         condition=Q(processed_at__isnull=True, failed_at__isnull=True),
                         name="inbound_event_pending_idx"),
            # /healthz and the admin: failed_at is not null (an empty index while all is well)
            models.Index(fields=["failed_at"], condition=Q(failed_at__isnull=False), name="inbound_event_failed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_sid}"

    @property
    def state(self) -> str:
        if self.processed_at:
            return "processed"
        if self.failed_at:
            return "failed"
        return "retrying" if self.attempts else "waiting"


class InboundDrain(TenantModel):
    """Whether a worker has been asked to process the organization's stored events, and until when
    that request stands (one row per organization).

    Under load one drain task serves many events: a webhook asks for a drain only when no request
    stands. It reads this row in the same round trip as its insert, right after the commit, and the
    drain marks the row spent before its last look for work; so an event stored while a request
    stood is seen by that drain, and one stored after the drain's last look finds no request standing
    and asks for a new one. A request that no drain honours (a lost task) lapses at ``requested_until``.
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    requested_until = models.DateTimeField()
    # When a delayed drain is queued for the organization's next retry of a failed event, so that one
    # delayed drain serves every event due by then, however many drains ran meanwhile.
    retry_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"drain requested until {self.requested_until:%H:%M:%S}"


class LabelUse(TenantModel):
    """How many of an organization's conversations carry each label, so that the inbox's label
    filter lists the labels in use from a few rows instead of reading every labelled conversation
    (half a second at a million conversations). Kept by a trigger on the conversations table
    (migration 0014), so every writer keeps it right: services, merges, bulk SQL, deletes."""

    label = models.CharField(max_length=50)
    conversations = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "label"], name="label_use_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.conversations})"


class CannedReply(TenantModel):
    """An organization-wide snippet agents insert by typing /shortcut in the composer."""

    shortcut = models.SlugField(max_length=50, help_text="Typed after a slash in the composer, e.g. /hours.")
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut"]
        verbose_name_plural = "canned replies"
        constraints = [
            models.UniqueConstraint(fields=["organization", "shortcut"], name="canned_reply_shortcut_unique"),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"
