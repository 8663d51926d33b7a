"""Calls as people see them: the call log, one call's page (notes, recording, transcript), and the
recording itself, streamed through our server. Every member of the organization reads them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.counts import CappedPaginator
from core.media import media_error, sealed

from . import selectors
from .forms import CallFilterForm, CallNotesForm
from .services import call_log, recordings

LOG_PAGE = 50
# The log counts its calls up to this many; past it, the pager says "500+ calls" (core.counts). Each
# row counted is read under the row-level-security policy: counting 2,000 missed calls took 9 ms of
# a page that had 25 (docs/benchmarks.md, issue 21).
LOG_COUNTED_UP_TO = 500



@require_GET
def call_log_page(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The log, newest first, with its filters. Opening it marks the missed calls it lists as seen
    (the top bar's badge leads here)."""
    organization = request.organization
    form = CallFilterForm(request.GET or None,
                          numbers=selectors.phone_number_choices(organization=organization))
    if request.GET and not form.is_valid():
        return render(request, "telephony/call_list.html", {"filter_form": form, "page": None, "query": ""},
                      status=400)
    filters = form.cleaned_data if form.is_bound else {}
    calls = selectors.call_list(organization=organization, filters=filters, user=request.user)
    page = CappedPaginator(calls.only(*selectors.CALL_LOG_FIELDS), LOG_PAGE, cap=LOG_COUNTED_UP_TO).get_page(request.GET.get("page"))
    rows = list(page.object_list)  # read before they are marked: the page shows which ones are new
    call_log.missed_calls_mark_seen(organization=organization, calls=calls)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "telephony/call_list.html", {
        "filter_form": form, "page": page, "rows": rows, "query": query.urlencode(),
    })


def _detail(request: HttpRequest, call, notes_form=None, status: int = 200) -> HttpResponse:
    return render(request, "telephony/call_detail.html", {
        "call": call, "notes_form": notes_form or CallNotesForm(initial={"notes": call.notes}),
    }, status=status)


@require_GET
def call_detail(request: HttpRequest, org_slug: str, call_id) -> HttpResponse:
    call = selectors.get_call_for_org(request.organization, call_id)
    call_log.missed_call_mark_seen(organization=request.organization, call=call)
    return _detail(request, call)


@require_POST
def call_notes(request: HttpRequest, org_slug: str, call_id) -> HttpResponse:
    call = selectors.get_call_for_org(request.organization, call_id)
    form = CallNotesForm(request.POST)
    if not form.is_valid():
        return _detail(request, call, form, status=400)
    try:
        call_log.call_notes_update(organization=request.organization, actor=request.user, call=call,
                                   notes=form.cleaned_data["notes"])
    except ValidationError as exc:
        form.add_error("notes", exc.message_dict.get("notes", exc.messages))
        return _detail(request, call, form, status=400)
    messages.success(request, "Notes saved.")
    return redirect("telephony:call-detail", org_slug=org_slug, call_id=call.pk)


@require_GET
def call_recording(request: HttpRequest, org_slug: str, call_id) -> HttpResponse:
    """The call's recording or voicemail, fetched from the carrier with the organization's
    credentials (which stay here, never in the browser), for a member of the organization."""
    call = selectors.get_call_for_org(request.organization, call_id)
    try:
        served = recordings.recording_open(call=call)
    except recordings.RecordingUnavailable as exc:
        return media_error(str(exc), 404)
    except recordings.RecordingRefused as exc:
        return media_error(str(exc), 502)
    response = FileResponse(served.fetched.file, content_type=served.content_type)
    response["Content-Length"] = str(served.fetched.size)
    response["Cache-Control"] = "private, max-age=3600"
    sealed(response)
    response["Content-Disposition"] = f'inline; filename="{served.filename}"'
    return response
