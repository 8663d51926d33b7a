"""Forms of the inbox: they check what a browser sent; services decide what may happen."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.validators import validate_credential, validate_meta_id, validate_name
from crm.models import Channel

from .models import ConversationStatus
from .selectors import INBOX_VIEWS, InboxFilters

ATTACHMENT_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "video/mp4",
                    "audio/mpeg", "audio/ogg", "text/vcard", "text/plain"}


def attachment_limit_mb() -> str:
    return f"{settings.ATTACHMENT_MAX_BYTES / (1024 * 1024):.1f}".removesuffix(".0")


SEARCH_MODES = [("words", "Words"), ("both", "Words and meaning"), ("meaning", "Meaning")]


class InboxFilterForm(forms.Form):
    view = forms.ChoiceField(choices=[(v, v) for v in INBOX_VIEWS], required=False)
    status = forms.ChoiceField(choices=[("", "Any"), *ConversationStatus.choices], required=False)
    line = forms.RegexField(regex=r"^[nw]:[0-9a-f-]{36}$", required=False,
                            error_messages={"invalid": "Unknown number or sender."})
    channel = forms.ChoiceField(choices=[("", "Any"), *Channel.choices], required=False)
    label = forms.CharField(max_length=50, required=False)
    unread = forms.BooleanField(required=False)
    q = forms.CharField(max_length=200, required=False, strip=True)
    mode = forms.ChoiceField(choices=SEARCH_MODES, required=False,
                             error_messages={"invalid_choice": "Search by words, by meaning, or both."})

    def filters(self) -> InboxFilters:
        data = self.cleaned_data
        # Absent means the defaults (Mine is where an agent starts; Open is what needs work).
        status = data["status"] if "status" in self.data else ConversationStatus.OPEN
        return InboxFilters(view=data["view"] or "mine", status=status, line=data["line"], channel=data["channel"],
                            label=data["label"].strip(), unread=data["unread"], q=data["q"],
                            mode=data["mode"] or "words")


def parse_cursor(value: str) -> tuple[datetime, str] | None:
    """A list cursor "2026-11-22T10:00:00.123456+00:00|<id>"; None when malformed."""
    at, _, pk = (value or "").partition("|")
    moment = parse_datetime(at) if at else None
    if moment is None or len(pk) != 36:
        return None
    return moment, pk


def format_cursor(conversation) -> str:
    return f"{conversation.last_message_at.isoformat()}|{conversation.pk}" if conversation.last_message_at else ""


class SendForm(forms.Form):
    body = forms.CharField(required=False, strip=False, max_length=1600,
                           error_messages={"max_length": "A message can be at most 1,600 characters."})
    note = forms.BooleanField(required=False)
    attachment = forms.FileField(required=False)

    def clean_attachment(self):
        upload = self.cleaned_data.get("attachment")
        if upload is None:
            return None
        if upload.size > settings.ATTACHMENT_MAX_BYTES:  # 5 MB by default: Twilio's limit for one MMS
            raise forms.ValidationError(f"Attachments can be at most {attachment_limit_mb()} MB (the carriers' "
                                        "limit for MMS).")
        if upload.content_type not in ATTACHMENT_TYPES:
            raise forms.ValidationError("This kind of file cannot be sent: use a picture, a PDF, a short video or "
                                        "audio clip, or a contact card.")
        return upload


class ContactWriteForm(forms.Form):
    """A first (or next) message to a contact from their page: which of our lines, and what."""

    line = forms.CharField(error_messages={"required": "Choose the line to write from."})
    body = forms.CharField(strip=False, max_length=1600,
                           error_messages={"required": "Write a message first.",
                                           "max_length": "A message can be at most 1,600 characters."})

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines

    def clean_line(self) -> str:
        line = self.cleaned_data["line"]
        if line not in self.lines:
            raise forms.ValidationError("That line is not one of this organization's numbers or WhatsApp senders.")
        return line

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].replace("\r\n", "\n")
        if not body.strip():
            raise forms.ValidationError("Write a message first.")
        return body


class ConversationUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=ConversationStatus.choices, required=False)
    snooze_until = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
    assignee = forms.CharField(required=False)  # "me", "none" or an agent id
    add_label = forms.CharField(max_length=50, required=False, validators=[validate_name])
    remove_label = forms.CharField(max_length=50, required=False)
    unread = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("status") == ConversationStatus.SNOOZED:
            until = data.get("snooze_until")
            if until is None:
                raise forms.ValidationError("Choose until when to snooze.")
            if timezone.is_naive(until):
                until = timezone.make_aware(until)
            if until <= timezone.now():
                raise forms.ValidationError("Snooze until a time in the future.")
            data["snooze_until"] = until
        return data


class ContactNotesForm(forms.Form):
    notes = forms.CharField(required=False, max_length=5000, widget=forms.Textarea)


class CannedReplyForm(forms.Form):
    shortcut = forms.SlugField(max_length=50)
    title = forms.CharField(max_length=200, validators=[validate_name])
    body = forms.CharField(max_length=1600, widget=forms.Textarea)


class _ClientChoice:
    """A sender's client, chosen among the organization's current clients (none: the organization's own)."""

    def __init__(self, *args, clients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.client_rows = {str(client.pk): client for client in clients}
        self.fields["client"].choices = [("", "The organization itself")] + [
            (pk, client.name) for pk, client in self.client_rows.items()]

    def clean_client(self):
        return self.client_rows.get(self.cleaned_data.get("client") or "")


class WhatsAppSenderForm(_ClientChoice, forms.Form):
    """Connecting a WhatsApp Cloud API sender: everything Meta's API Setup page shows."""

    name = forms.CharField(max_length=200, validators=[validate_name],
                           help_text="What the team sees in the inbox, e.g. “Support WhatsApp”.")
    phone_number_id = forms.CharField(max_length=64, label="Phone number id", validators=[validate_meta_id])
    business_account_id = forms.CharField(max_length=64, label="WhatsApp Business Account id",
                                          validators=[validate_meta_id])
    access_token = forms.CharField(max_length=1000, label="Access token", widget=forms.PasswordInput,
                                   validators=[validate_credential],
                                   help_text="A System User's permanent token is best: temporary ones expire in a day.")
    app_secret = forms.CharField(max_length=200, label="App secret", widget=forms.PasswordInput,
                                 validators=[validate_credential],
                                 help_text="Meta signs every webhook with it (App settings → Basic).")
    client = forms.ChoiceField(required=False, label="Client",
                               help_text="The client this number writes for; its conversations are that client's.")


class WhatsAppSenderEditForm(_ClientChoice, forms.Form):
    """Editing a sender: its secrets are write-only, so an empty field keeps the stored value."""

    name = forms.CharField(max_length=200, validators=[validate_name])
    business_account_id = forms.CharField(max_length=64, label="WhatsApp Business Account id",
                                          validators=[validate_meta_id])
    access_token = forms.CharField(max_length=1000, label="New access token", widget=forms.PasswordInput,
                                   required=False, validators=[validate_credential],
                                   help_text="Leave empty to keep the current one.")
    app_secret = forms.CharField(max_length=200, label="New app secret", widget=forms.PasswordInput,
                                 required=False, validators=[validate_credential],
                                 help_text="Leave empty to keep the current one.")
    client = forms.ChoiceField(required=False, label="Client",
                               help_text="The client this number writes for; its conversations are that client's.")
