"""HTML pages of `crm`: contacts and a contact's page, the orders page and an order's page."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from . import selectors
from .forms import ContactFilterForm, OrderFilterForm

ORDERS_PAGE = 50
# What a row of the contacts page shows: not the search vector, nor the notes.
CONTACT_ROW_FIELDS = ("id", "organization_id", "name", "phone_number", "address_kind", "email",
                      "whatsapp_profile_name", "sms_opted_out_at", "whatsapp_opted_out_at", "created_at")


@require_GET
def order_list_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = request.organization
    form = OrderFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "crm/order_list.html", {"filter_form": form, "page": None, "query": ""}, status=400)
    f = form.cleaned_data if form.is_bound else {}
    orders = selectors.order_list(organization=organization, status=f.get("status") or "",
                                  search=f.get("customer") or "", created_from=f.get("date_from"),
                                  created_to=f.get("date_to"))
    page = Paginator(orders, ORDERS_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "crm/order_list.html", {
        "filter_form": form, "page": page, "query": query.urlencode(),
        "totals": selectors.order_totals(orders),
    })


@require_GET
def order_detail(request: HttpRequest, org_slug: str, order_id) -> HttpResponse:
    order = selectors.get_order_for_org(request.organization, order_id)
    return render(request, "crm/order_detail.html", {"order": order})


@require_GET
def order_by_number(request: HttpRequest, org_slug: str, number: int) -> HttpResponse:
    """Where "#1042" in a message leads: that order's page, or a 404 that says so."""
    order = selectors.order_by_number(request.organization, number)
    if order is None:
        raise Http404(f"This organization has no order #{number}.")
    return redirect("crm:order-detail", org_slug=org_slug, order_id=order.pk)


CONTACTS_PAGE = 50


@require_GET
def contact_list_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = ContactFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "crm/contact_list.html", {"filter_form": form, "page": None, "query": ""},
                      status=400)
    f = form.cleaned_data if form.is_bound else {}
    contacts = selectors.contact_list(organization=request.organization, search=f.get("q") or "",
                                      has_open_orders=bool(f.get("has_open_orders")),
                                      opted_out=bool(f.get("opted_out")), sort=f.get("sort") or "name")
    page = Paginator(contacts.only(*CONTACT_ROW_FIELDS), CONTACTS_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "crm/contact_list.html", {"filter_form": form, "page": page, "query": query.urlencode()})


@require_GET
def contact_detail(request: HttpRequest, org_slug: str, contact_id) -> HttpResponse:
    contact = selectors.get_contact_for_org(request.organization, contact_id)
    return render(request, "crm/contact_detail.html", {
        "contact": contact,
        "orders": selectors.order_list(organization=request.organization, contact=contact)[:50],
    })
