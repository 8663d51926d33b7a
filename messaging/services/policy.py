"""One answer to "may we send this?", used by the composer, the API and the sending task alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from crm.models import Channel
from messaging.models import Conversation
from telephony.models import NumberStatus

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


def may_send(conversation: Conversation, *, has_media: bool = False, is_template: bool = False) -> Verdict:
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
    if conversation.channel == Channel.WHATSAPP and not is_template and not whatsapp_window_open(conversation):
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
    elif conversation.whatsapp_sender is not None and not conversation.whatsapp_sender.is_active:
        return Verdict(False, "This WhatsApp sender is switched off.", "sender_inactive")
    return Verdict(True)
