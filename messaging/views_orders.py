"""The contact's orders in the inbox's contact panel: seen, taken and moved through their workflow next
to the conversation, and (when the agent ticks the box) told to the customer in it, through the same
"may we send?" check as every message (crm cannot send: the telling is here, in messaging)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.models import OrderStatus

from . import selectors
from .services import outbound

PANEL_ORDERS = 10  # the newest; the orders page has the rest
BLANK_LINES = 3  # empty lines the new-order form offers
SPARE_LINES = 2  # empty lines the edit form offers below the order's own


def _panel(request: HttpRequest, conversation, *, said: str = "", status: int = 200) -> HttpResponse:
    contact = conversation.contact
    orders = list(crm_selectors.order_list(organization=request.organization, contact=contact)
                  .prefetch_related("items")[:PANEL_ORDERS])
    return render(request, "messaging/_orders.html", {
        "conversation": conversation, "orders": orders, "said": said, "blank_lines": range(BLANK_LINES),
        "statuses": OrderStatus,
        "spare_lines": range(SPARE_LINES)}, status=status)


def _refused(message: str, status: int = 400) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _told(request: HttpRequest, conversation, text: str) -> str:
    """Tell the customer in the conversation when the agent asked to; what the panel says about it."""
    if request.POST.get("notify") != "1":
        return ""
    try:
        outbound.message_send(organization=request.organization, actor=request.user, conversation=conversation,
                              body=text)
    except ValidationError as exc:
        return "The customer was not told: " + " ".join(exc.messages)
    return "The customer was told in the conversation."


def _lines(request: HttpRequest) -> list[crm_services.ItemInput]:
    """The order's lines from the form's parallel fields; rows left (or made) empty are skipped."""
    names = request.POST.getlist("item_name")
    quantities = request.POST.getlist("item_quantity")
    prices = request.POST.getlist("item_price")
    lines = []
    for position, (name, quantity, price) in enumerate(zip(names, quantities, prices, strict=False), start=1):
        if not (name.strip() or price.strip()):
            continue
        try:
            lines.append(crm_services.ItemInput(name, int(quantity or 1), Decimal(price.strip() or "0")))
        except (ValueError, InvalidOperation):
            raise ValidationError({"items": f"Line {position}: the quantity is a whole number and the price an "
                                            "amount such as 12.50."}) from None
    return lines


def _order_changed(request: HttpRequest, conversation_id, order_id, change):
    """The conversation and its customer's order after `change(order, version)` (the version the form was
    shown with), or, in the order's place, the refusal to answer: not this customer's order (404), no
    version, someone else's change meanwhile (409), a change the order cannot take (400)."""
    conversation = selectors.get_conversation_for_org(request.organization, conversation_id)
    order = crm_selectors.get_order_for_org(request.organization, order_id)
    if order.contact_id != conversation.contact_id:
        return conversation, _refused("That order is not this customer's.", 404)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        return conversation, _refused("The order's version is missing: reload the conversation.")
    try:
        return conversation, change(order, version)
    except crm_services.OrderConflict as exc:
        return conversation, _refused(str(exc), 409)
    except ValidationError as exc:
        return conversation, _refused(" ".join(exc.messages))


@require_GET
def conversation_orders(request: HttpRequest, org_slug: str, conversation_id) -> HttpResponse:
    return _panel(request, selectors.get_conversation_for_org(request.organization, conversation_id))


@require_POST
def conversation_order_create(request: HttpRequest, org_slug: str, conversation_id) -> HttpResponse:
    conversation = selectors.get_conversation_for_org(request.organization, conversation_id)
    try:
        lines = _lines(request)
        if not lines:
            raise ValidationError({"items": "Add at least one item to the order."})
        order = crm_services.order_create(organization=request.organization, actor=request.user,
                                          contact=conversation.contact, items=lines,
                                          shipping_address=request.POST.get("shipping_address", "")[:2000],
                                          notes=request.POST.get("notes", "")[:10000])
    except ValidationError as exc:
        return _refused(" ".join(exc.messages))
    said = _told(request, conversation, f"Thank you! We have your order #{order.number}: "
                                        + ", ".join(f"{i.quantity} x {i.name}" for i in order.items.all())
                                        + f". Total {order.currency} {order.total}.")
    return _panel(request, conversation, said=f"Order #{order.number} created. {said}".strip())


@require_POST
def conversation_order_update(request: HttpRequest, org_slug: str, conversation_id, order_id) -> HttpResponse:
    """Change an order's lines (while it is pending or confirmed) and its shipping address, against
    the version the form was shown with: a change someone else made meanwhile is a 409 that says so,
    never overwritten. A line emptied in the form is removed."""
    def change(order, version):
        lines = _lines(request)
        if not lines:
            raise ValidationError({"items": "An order needs at least one item: to call it off, cancel it."})
        return crm_services.order_update(organization=request.organization, actor=request.user, order=order,
                                         version=version, items=lines,
                                         shipping_address=request.POST.get("shipping_address", "")[:2000])

    conversation, order = _order_changed(request, conversation_id, order_id, change)
    if isinstance(order, HttpResponse):
        return order
    said = _told(request, conversation, f"Your order #{order.number} was updated: "
                                        + ", ".join(f"{i.quantity} x {i.name}" for i in order.items.all())
                                        + f". Total {order.currency} {order.total}.")
    return _panel(request, conversation, said=f"Order #{order.number} updated. {said}".strip())


@require_POST
def conversation_order_transition(request: HttpRequest, org_slug: str, conversation_id, order_id) -> HttpResponse:
    conversation, order = _order_changed(
        request, conversation_id, order_id,
        lambda order, version: crm_services.order_transition(organization=request.organization, actor=request.user,
                                                             order=order, to=request.POST.get("to", ""),
                                                             version=version))
    if isinstance(order, HttpResponse):
        return order
    said = _told(request, conversation, f"Your order #{order.number} is now {order.get_status_display().lower()}.")
    return _panel(request, conversation,
                  said=f"Order #{order.number} is now {order.get_status_display().lower()}. {said}".strip())

