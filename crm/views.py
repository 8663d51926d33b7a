"""HTML pages of `crm`: contacts and a contact's page, the orders page and an order's page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from tenants.permissions import is_manager, manager_required

from . import exports, imports, merges, selectors, services
from .forms import ContactEditForm, ContactFilterForm, ContactImportForm, OrderFilterForm
from .rows import contact_rows_html

ORDERS_PAGE = 50
# What a row of the contacts page shows: not the search vector, nor the notes.
CONTACT_ROW_FIELDS = ("id", "organization_id", "name", "phone_number", "address_kind", "email", "labels",
                      "whatsapp_profile_name", "sms_opted_out_at", "whatsapp_opted_out_at", "created_at")


@require_GET
def order_list_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The orders, newest first, 50 at a time (keyset paging), and what the filtered ones add up to
    (once a filter narrows them: adding up every order of a large shop is the accounts' job)."""
    organization = request.organization
    form = OrderFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "crm/order_list.html", {"filter_form": form, "rows": None}, status=400)
    filters = _order_filters(form) if form.is_bound else {}
    try:
        rows, after = selectors.order_page(organization=organization, after=request.GET.get("after", ""),
                                           limit=ORDERS_PAGE, **filters)
    except ValidationError as exc:
        return render(request, "crm/order_list.html", {"filter_form": form, "rows": None,
                                                       "error": " ".join(exc.messages)}, status=400)
    query = request.GET.copy()
    query.pop("after", None)
    return render(request, "crm/order_list.html", {
        "filter_form": form, "rows": rows, "query": query.urlencode(), "after": after,
        "paged": bool(request.GET.get("after")), "narrowed": any(filters.values()),
        "orders_url": reverse("crm:order-list", kwargs={"org_slug": org_slug}),
    })


def _order_filters(form: OrderFilterForm) -> dict:
    f = form.cleaned_data
    return {"status": f.get("status") or "", "search": f.get("customer") or "", "created_from": f.get("date_from"),
            "created_to": f.get("date_to")}


@require_GET
def order_totals(request: HttpRequest, org_slug: str) -> HttpResponse:
    """What the filtered orders add up to, per currency: asked by the orders page once it is shown
    (adding up tens of thousands of orders takes longer than listing fifty of them)."""
    form = OrderFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse("", status=400, content_type="text/plain; charset=utf-8")
    filters = _order_filters(form)
    if not any(filters.values()):
        return HttpResponse("", status=400, content_type="text/plain; charset=utf-8")
    totals = selectors.order_totals(selectors.order_list(organization=request.organization, **filters))
    return render(request, "crm/_order_totals.html", {"totals": totals})


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


def contact_filters(form: ContactFilterForm) -> dict:
    """contact_list's filters and order from the contacts page's (valid or unbound) form."""
    f = form.cleaned_data if form.is_bound else {}
    return {"search": f.get("q") or "", "has_open_orders": bool(f.get("has_open_orders")),
            "opted_out": bool(f.get("opted_out")), "label": f.get("label") or "",
            "last_contact": f.get("last_contact") or "", "sort": f.get("sort") or "name"}


@require_GET
def contact_list_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The contacts, 50 at a time, with "Next" following the last row shown (keyset paging)."""
    form = ContactFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "crm/contact_list.html", {"filter_form": form, "rows": None}, status=400)
    try:
        rows, after = selectors.contact_page(
            organization=request.organization, after=request.GET.get("after", ""), limit=CONTACTS_PAGE,
            fields=CONTACT_ROW_FIELDS, **contact_filters(form))
    except ValidationError as exc:
        return render(request, "crm/contact_list.html", {"filter_form": form, "rows": None,
                                                         "error": " ".join(exc.messages)}, status=400)
    last = selectors.last_contacted(organization=request.organization, contacts=rows)
    for row in rows:
        row.last_contact = last.get(row.pk)
    query = request.GET.copy()
    query.pop("after", None)
    contacts_url = reverse("crm:contact-list", kwargs={"org_slug": org_slug})
    return render(request, "crm/contact_list.html", {
        "filter_form": form, "rows": rows, "rows_html": contact_rows_html(rows, contacts_url=contacts_url),
        "query": query.urlencode(), "after": after,
        "paged": bool(request.GET.get("after")), "labels": selectors.contact_labels(organization=request.organization),
        "can_import": is_manager(request), "contacts_url": contacts_url,
    })


@require_GET
def contact_export(request: HttpRequest, org_slug: str) -> StreamingHttpResponse | HttpResponse:
    """The contacts the page lists with these filters, as CSV (streamed)."""
    form = ContactFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        message = " ".join(f"{form.fields[field].label if field in form.fields else ''}: {' '.join(errors)}"
                           for field, errors in form.errors.items())
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    lines = exports.contact_export(organization=request.organization, actor=request.user,
                                   filters=contact_filters(form))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    name = f"contacts-{request.organization.slug}-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_http_methods(["GET", "POST"])
def contact_detail(request: HttpRequest, org_slug: str, contact_id) -> HttpResponse:
    """A contact's page: what we know of them, one timeline of everything with them; POST saves the
    edit form (name, email, labels, notes) and shows the page again."""
    contact = selectors.get_contact_for_org(request.organization, contact_id)
    form, status, saved = None, 200, False
    if request.method == "POST":
        form = ContactEditForm(request.POST)
        if form.is_valid():
            try:
                contact = services.contact_update(organization=request.organization, actor=request.user,
                                                  contact=contact, **form.cleaned_data)
                saved, form = True, None
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
        if form is not None and form.errors:
            status = 400
    form = form or ContactEditForm(initial={"name": contact.name, "email": contact.email, "notes": contact.notes,
                                            "labels": ", ".join(contact.labels)})
    return render(request, "crm/contact_detail.html", {
        "contact": contact, "form": form, "saved": saved,
        "orders": selectors.order_list(organization=request.organization, contact=contact)[:50],
        "timeline": selectors.contact_timeline(organization=request.organization, contact=contact),
        "labels": selectors.contact_labels(organization=request.organization),
        "merges": selectors.contact_merges(organization=request.organization, contact=contact),
        "can_merge": is_manager(request),
    }, status=status)


@require_GET
@manager_required
def contact_merge_search(request: HttpRequest, org_slug: str, contact_id) -> HttpResponse:
    """Merging into this contact, step one: find the duplicate (the contacts page's search)."""
    survivor = selectors.get_contact_for_org(request.organization, contact_id)
    query = request.GET.get("q", "").strip()[:100]
    rows = []
    if query:
        rows, _ = selectors.contact_page(organization=request.organization, search=query, limit=21,
                                         fields=CONTACT_ROW_FIELDS)
        rows = [row for row in rows if row.pk != survivor.pk][:20]
    return render(request, "crm/contact_merge_search.html", {"survivor": survivor, "query": query, "rows": rows})


@require_http_methods(["GET", "POST"])
@manager_required
def contact_merge(request: HttpRequest, org_slug: str, contact_id, duplicate_id) -> HttpResponse:
    """Merging into this contact, step two: what will move (GET), then the merge (POST)."""
    organization = request.organization
    survivor = selectors.get_contact_for_org(organization, contact_id)
    duplicate = selectors.get_contact_for_org(organization, duplicate_id)
    error, status = "", 200
    if request.method == "POST":
        try:
            record = merges.contact_merge(organization=organization, actor=request.user, survivor=survivor,
                                          duplicate=duplicate)
        except ValidationError as exc:
            error, status = " ".join(exc.messages), 400
        else:
            messages.success(request, f"{record.merged_name} ({record.merged_address}) was merged into "
                                      f"{survivor.display_name}.")
            return redirect("crm:contact-detail", org_slug=org_slug, contact_id=survivor.pk)
    return render(request, "crm/contact_merge.html", {
        "survivor": survivor, "duplicate": duplicate, "error": error,
        "moves": selectors.merge_preview(organization=organization, duplicate=duplicate),
    }, status=status)


IMPORT_LINES_SHOWN = 1000  # a preview's lines on its page (and, below them, the later ones with errors)


@require_http_methods(["GET", "POST"])
@manager_required
def contact_import(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Import contacts from CSV, step one: upload the file; its preview follows (nothing written yet)."""
    organization = request.organization
    form = ContactImportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > imports.MAX_BYTES:
                    raise ValidationError(f"The file is {upload.size / 1024 / 1024:.1f} MB; at most "
                                          f"{imports.MAX_BYTES // 1024 // 1024} MB can be imported at once. Split it.")
                record = imports.contact_import_preview(organization=organization, actor=request.user,
                                                        file_name=upload.name, data=upload.read(),
                                                        default_country=form.cleaned_data["country"])
            except ValidationError as exc:
                form.add_error("file", exc.messages)
            else:
                return redirect("crm:contact-import-detail", org_slug=org_slug, contact_import_id=record.pk)
        status = 400
    return render(request, "crm/contact_import.html", {
        "form": form, "recent": selectors.contact_imports(organization=organization)[:10],
    }, status=status)


@require_http_methods(["GET", "POST"])
@manager_required
def contact_import_detail(request: HttpRequest, org_slug: str, contact_import_id) -> HttpResponse:
    """Step two: the preview, line by line (GET), and applying it (POST, once)."""
    organization = request.organization
    record = selectors.get_contact_import_for_org(organization, contact_import_id)
    error = ""
    if request.method == "POST":
        try:
            record = imports.contact_import_apply(organization=organization, actor=request.user,
                                                  contact_import=record)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            result = record.result
            messages.success(request, f"Imported: {result['created']} new, {result['updated']} updated, "
                                      f"{result['unchanged']} already up to date, {result['skipped']} skipped.")
            return redirect("crm:contact-import-detail", org_slug=org_slug, contact_import_id=record.pk)
    rows = record.rows
    return render(request, "crm/contact_import_detail.html", {
        "record": record, "error": error, "rows": rows[:IMPORT_LINES_SHOWN], "more": max(0, len(rows) - IMPORT_LINES_SHOWN),
        "hidden_errors": [row for row in rows[IMPORT_LINES_SHOWN:] if row["error"]][:IMPORT_LINES_SHOWN],
    }, status=400 if error else 200)
