"""One answer to "may we send this?", used by the composer, the API and the sending task alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from crm.models import Channel
from messaging.models import Conversation, TemplateProvider, WhatsAppTemplate
from telephony.models import NumberStatus

from .senders import sender_problem

WHATSAPP_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""
    code: str = ""

    def __bool__(self) -> bool:
        return self.allowed


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def whatsapp_window_open(conversation: Conversation, now=None) -> bool:
    now = now or timezone.now()
    return bool(conversation.last_inbound_at and now - conversation.last_inbound_at < WHATSAPP_WINDOW)


def whatsapp_window_closes_at(conversation: Conversation):
    """When the 24-hour window of a WhatsApp conversation closes (or closed); None before the customer
    ever wrote on it."""
    return conversation.last_inbound_at + WHATSAPP_WINDOW if conversation.last_inbound_at else None


def template_refusal(conversation: Conversation, template: WhatsAppTemplate) -> Verdict | None:
    """Why this template may not be sent in this conversation, or None when it may: approved by the
    vendor, something the composer can fill, and belonging to the conversation's WhatsApp line."""
    if conversation.channel != Channel.WHATSAPP:
        return Verdict(False, "Templates are WhatsApp messages: this conversation is not on WhatsApp.", "template_channel")
    sender, number = conversation.whatsapp_sender, conversation.phone_number
    if template.provider == TemplateProvider.WHATSAPP_CLOUD:
        ours = sender is not None and sender.business_account_id and sender.business_account_id == template.business_account_id
    else:
        ours = number is not None and number.provider_account_id == template.provider_account_id
    if not ours:
        return Verdict(False, f"The template “{template.name}” belongs to another WhatsApp account than this "
                              f"conversation's line.", "template_elsewhere")
    if template.status != "approved":
        reason = f": {template.status_reason.rstrip('.')}" if template.status_reason else ""
        return Verdict(False, f"The template “{template.name}” ({template.language}) is "
                              f"{template.get_status_display().lower()}{reason}. Only approved templates can be "
                              f"sent.", f"template_{template.status}")
    if template.unsupported:
        return Verdict(False, f"The template “{template.name}” cannot be sent from here. {template.unsupported}",
                       "template_unsupported")
    return None


def may_send(conversation: Conversation, *, has_media: bool = False,
             template: WhatsAppTemplate | None = None) -> Verdict:
    """May this conversation be sent a message now (with media, or as this WhatsApp template)?"""
    contact = conversation.contact
    if not contact.takes_replies:
        return Verdict(False, f"{contact.phone_number} is {_a(contact.get_address_kind_display().lower())}: it can "
                              f"send messages but cannot receive them, so no reply can be sent.",
                       contact.address_kind)
    if contact.opted_out(conversation.channel):
        how = contact.whatsapp_opt_out_source if conversation.channel == Channel.WHATSAPP else contact.sms_opt_out_source
        return Verdict(False, f"{contact} opted out of {conversation.get_channel_display()}"
                              f"{f' (replied {how})' if how else ''}; they must opt back in (reply START) first.",
                       "opted_out")
    if template is not None:
        refusal = template_refusal(conversation, template)
        if refusal is not None:
            return refusal
    if conversation.channel == Channel.WHATSAPP and template is None and not whatsapp_window_open(conversation):
        return Verdict(False, "More than 24 hours have passed since the customer's last WhatsApp message: only an "
                              "approved template can be sent now.", "whatsapp_window_closed")
    number = conversation.phone_number
    if number is not None:
        if number.status != NumberStatus.ACTIVE:
            return Verdict(False, f"{number} is {number.get_status_display().lower()} and cannot send.", "number_inactive")
        if conversation.channel == Channel.SMS:
            if has_media and not number.can("mms"):
                return Verdict(False, f"{number} cannot send MMS (pictures or files); send text only.", "no_mms")
            if not number.can("sms"):
                return Verdict(False, f"{number} cannot send text messages.", "no_sms")
    elif conversation.whatsapp_sender is not None and (problem := sender_problem(conversation.whatsapp_sender)):
        sender = conversation.whatsapp_sender
        return Verdict(False, problem, "sender_inactive" if not sender.is_active else f"sender_{sender.status}")
    return Verdict(True)
