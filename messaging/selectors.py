"""Reads of `messaging`, organization first."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from crm.models import Contact
from tenants.models import Organization
from tenants.scoping import get_for_org

from .models import Conversation, Message


def contact_list(*, organization: Organization, search: str = "") -> QuerySet[Contact]:
    qs = Contact.objects.filter(organization=organization)
    if search:
        qs = qs.filter(Q(phone_number__contains=search) | Q(name__icontains=search))
    return qs.order_by("name", "phone_number")


def get_contact_for_org(organization: Organization, public_id) -> Contact:
    return get_for_org(Contact.objects.all(), organization, public_id)


def conversation_list(*, organization: Organization, filters: dict | None = None) -> QuerySet[Conversation]:
    filters = filters or {}
    qs = Conversation.objects.filter(organization=organization).select_related("contact", "assignee", "phone_number",
                                                                                 "whatsapp_sender")
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("assignee"):
        qs = qs.filter(assignee=filters["assignee"])
    if filters.get("phone_number"):
        qs = qs.filter(phone_number=filters["phone_number"])
    if filters.get("unread"):
        qs = qs.filter(unread_count__gt=0)
    return qs.order_by("-last_message_at", "-id")


def get_conversation_for_org(organization: Organization, public_id) -> Conversation:
    return get_for_org(Conversation.objects.select_related("contact", "phone_number", "whatsapp_sender", "assignee"),
                       organization, public_id)


def get_message_for_org(organization: Organization, public_id) -> Message:
    return get_for_org(Message.objects.select_related("conversation__phone_number__provider_account",
                                                      "conversation__whatsapp_sender"), organization, public_id)


def message_page(*, organization: Organization, conversation: Conversation, before=None, limit: int = 50):
    """The newest `limit` messages before a cursor (a message id), returned oldest first."""
    qs = Message.objects.filter(organization=organization, conversation=conversation)
    if before is not None:
        anchor = qs.filter(pk=before).values_list("created_at", flat=True).first()
        if anchor is not None:
            qs = qs.filter(created_at__lt=anchor)
    page = list(qs.order_by("-created_at", "-id")[: limit + 1])
    has_more = len(page) > limit
    return list(reversed(page[:limit])), has_more
