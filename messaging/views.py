"""HTML views of `messaging`: the agent inbox, canned replies, and media."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from core.media import media_error, sealed
from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.models import Channel
from telephony import selectors as telephony_selectors
from telephony.models import Call
from tenants import presence
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.models import AgentKind
from tenants.permissions import manager_required
from tenants.scoping import parse_public_id

from . import search, selectors
from .forms import (
    SEARCH_MODES,
    CannedReplyForm,
    ContactNotesForm,
    ContactWriteForm,
    ConversationUpdateForm,
    InboxFilterForm,
    SendForm,
    attachment_limit_mb,
    format_cursor,
    parse_cursor,
)
from .models import ConversationStatus
from .rows import row_html
from .services import attachments, live, media, policy
from .services import conversations as services
from .services import inbox as inbox_services


@require_GET
def message_media(request: HttpRequest, org_slug: str, message_id, index: int):
    """A customer's attachment, fetched from the provider for a member of the organization. Twilio's
    media URLs need the account's credentials and WhatsApp's a bearer token: they stay here, never
    in the browser. Raster images, audio and video show inline; anything else is a download."""
    message = selectors.get_message_for_org(request.organization, message_id)
    try:
        served = media.media_open(message=message, index=index)
    except media.MediaUnavailable as exc:
        return media_error(str(exc), 404)
    except media.MediaRefused as exc:
        return media_error(str(exc), 502)
    response = FileResponse(served.fetched.file, content_type=served.content_type)
    response["Content-Length"] = str(served.fetched.size)
    response["Cache-Control"] = "private, max-age=3600"
    sealed(response)
    disposition = "inline" if served.inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{served.filename}"'
    return response


# The inbox ------------------------------------------------------------------------------------------
# Three panes (list, thread, contact) rendered by the server; htmx swaps the panes and a small script
# (static/js/inbox.js) adds the keyboard, the composer's helpers and the live updates, which poll
# `inbox_poll` with a cursor (see services/live.py and docs/architecture.md for why not SSE).

LIVE_OVERLAP = timedelta(seconds=5)  # a transaction may commit a little after it stamped updated_at


def _bad_request(request, message: str) -> HttpResponse:
    if request.htmx:
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    return render(request, "messaging/inbox_error.html", {"error": message}, status=400)


def _first_error(form) -> str:
    errors = form.errors.get_json_data()
    for field_errors in errors.values():
        for error in field_errors:
            return error["message"]
    return "Check what you entered."


def _validation_message(exc: ValidationError) -> str:
    return " ".join(exc.messages) or "That cannot be done."


def _filters(request) -> tuple[selectors.InboxFilters | None, str, object]:
    agent = tenant_selectors.request_agent(request)
    form = InboxFilterForm(request.GET)
    if not form.is_valid():
        return None, _first_error(form), agent
    filters = form.filters()
    if not request.GET.get("view") and agent is None:
        filters = replace(filters, view="all")  # people who are not agents start with everything
    return filters, "", agent


def _list_context(request, filters, agent, after=None) -> dict:
    try:
        found = selectors.inbox_conversations(organization=request.organization, agent=agent, filters=filters,
                                              after=after, limit=selectors.INBOX_PAGE + 1)
    except search.MeaningUnavailable as exc:
        found, search_error = [], f"Search by meaning is unavailable right now ({exc}). Search by words instead."
    else:
        search_error = getattr(found, "meaning_unavailable", "")
        if search_error:
            search_error = f"Only words were searched: meaning is unavailable right now ({search_error})."
    rows = list(found)
    has_more = len(rows) > selectors.INBOX_PAGE
    rows = rows[: selectors.INBOX_PAGE]
    query = request.GET.copy()
    query.pop("after", None)
    query.pop("c", None)
    return {"rows": rows, "has_more": has_more, "next_cursor": format_cursor(rows[-1]) if rows else "",
            "filters": filters, "filter_query": query.urlencode(), "search_error": search_error,
            "search_modes": SEARCH_MODES}


def _head_context(request, conversation, agent) -> dict:
    """What the thread's header needs: the conversation, who may be assigned, and who is asking."""
    return {"conversation": conversation, "me": agent, "statuses": ConversationStatus.choices,
            "agents": list(tenant_selectors.agent_list(organization=request.organization,
                                                       filters={"kind": AgentKind.HUMAN}))}


def _thread_context(request, conversation, agent) -> dict:
    organization = request.organization
    if conversation.unread_count:  # just read from the database; a message arriving after is read by the open tab
        services.conversation_mark_read(organization=organization, conversation=conversation)
        conversation.unread_count = 0
    messages, has_older = selectors.thread_items(organization=organization, conversation=conversation)
    # Not "messages": that name is the page's flash messages (base.html), which a thread opened on
    # a full page (?c=..., where call notifications lead) would otherwise show as banners.
    return {**_head_context(request, conversation, agent), "thread_messages": messages, "has_older": has_older,
            "verdict": policy.may_send(conversation),
            "media_verdict": policy.may_send(conversation, has_media=True),
            "attachment_max_bytes": settings.ATTACHMENT_MAX_BYTES,
            "attachment_max_mb": attachment_limit_mb(),
            "canned_replies": list(selectors.canned_reply_list(organization=organization)),
            "whatsapp_templates": selectors.whatsapp_templates_for(organization=organization,
                                                                   conversation=conversation),
            "contact_conversations": selectors.contact_conversations(organization=organization,
                                                                     contact=conversation.contact)}


@require_GET
def inbox(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = request.organization
    filters, error, agent = _filters(request)
    if filters is None:
        return _bad_request(request, error)
    context = {
        **_list_context(request, filters, agent),
        "agent": agent, "lines": selectors.inbox_lines(organization=organization),
        "labels": selectors.inbox_labels(organization=organization),
        "unread_total": selectors.unread_total_text(selectors.inbox_unread_total(organization=organization)),
        "live_token": live.live_token(organization, agent, user=request.user),
        "cursor": (timezone.now() - LIVE_OVERLAP).isoformat(),
        "views": [("mine", "Mine"), ("unassigned", "Unassigned"), ("all", "All")],
        "statuses": ConversationStatus.choices, "channels": Channel.choices,
    }
    conversation = None
    if request.GET.get("c"):
        conversation = selectors.get_conversation_for_org(organization, request.GET["c"])
        context.update(_thread_context(request, conversation, agent))
    open_id = conversation.pk if conversation else ""
    context["version"] = live.inbox_version(organization, _watched(filters, agent, open_id))
    return render(request, "messaging/inbox.html", context)


def _watched(filters, agent, conversation_id) -> list[str]:
    return live.watched(view=filters.view, agent_id=agent.pk if agent else None, conversation_id=conversation_id)


@require_GET
def inbox_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The list pane for other filters, or its next page (`after`)."""
    filters, error, agent = _filters(request)
    if filters is None:
        return _bad_request(request, error)
    after = None
    if request.GET.get("after"):
        after = parse_cursor(request.GET["after"])
        if after is None:
            return _bad_request(request, "That page of the list does not exist; reload the inbox.")
    template = "messaging/_inbox_rows.html" if after else "messaging/_inbox_list.html"
    return render(request, template, {**_list_context(request, filters, agent, after),
                                      "open_id": request.GET.get("c", "")})


@require_GET
def conversation_open(request: HttpRequest, org_slug: str, conversation_id) -> HttpResponse:
    """The thread and contact panes of one conversation (opening it marks it read for the team)."""
    conversation = selectors.get_conversation_for_org(request.organization, conversation_id)
    if not request.htmx:  # a link opened in a new tab: the whole inbox with this conversation open
        return redirect(f"{reverse('messaging:inbox', kwargs={'org_slug': org_slug})}?c={conversation.pk}")
    agent = tenant_selectors.request_agent(request)
    return render(request, "messaging/_thread.html", {**_thread_context(request, conversation, agent), "oob": True})


@require_GET
def conversation_with(request: HttpRequest, org_slug: str, contact_id, phone_number_id) -> HttpResponse:
    """The contact's conversation on one of our numbers, opened in the inbox: where a call's
    notification, the call log and the contact's calls lead. Created the first time (idempotent),
    so a caller who never texted still has the one conversation their calls and messages share."""
    organization = request.organization
    contact = crm_selectors.get_contact_for_org(organization, contact_id)
    number = telephony_selectors.get_phone_number_for_org(organization, phone_number_id)
    conversation = services.conversation_for(organization=organization, contact=contact, channel=Channel.SMS,
                                             phone_number=number)
    return redirect(f"{reverse('messaging:inbox', kwargs={'org_slug': org_slug})}?c={conversation.pk}")


@require_http_methods(["GET", "POST"])
def contact_write(request: HttpRequest, org_slug: str, contact_id) -> HttpResponse:
    """Start (or carry on) a conversation from the contact's page: choose one of our lines, write,
    send. Every line says whether we may send there and, if not, why (the same "may we send?" as
    the composer's); a refused message leaves nothing behind, not even an empty conversation."""
    organization = request.organization
    contact = crm_selectors.get_contact_for_org(organization, contact_id)
    lines = selectors.contact_lines(organization=organization, contact=contact)
    verdicts = {key: policy.may_send(conversation) for key, conversation in lines.items()}
    form, error = ContactWriteForm(request.POST or None, lines=lines), ""
    if request.method == "POST":
        if form.is_valid():
            chosen = lines[form.cleaned_data["line"]]
            try:
                conversation = inbox_services.contact_write(
                    organization=organization, actor=request.user, contact=contact, channel=chosen.channel,
                    phone_number=chosen.phone_number, whatsapp_sender=chosen.whatsapp_sender,
                    body=form.cleaned_data["body"])
            except ValidationError as exc:
                error = _validation_message(exc)
            else:
                url = f"{reverse('messaging:inbox', kwargs={'org_slug': org_slug})}?c={conversation.pk}"
                if request.htmx:
                    return HttpResponse(status=204, headers={"HX-Redirect": url})
                return redirect(url)
        else:
            error = _first_error(form)
    template = "messaging/_contact_write.html" if request.htmx else "messaging/contact_write.html"
    return render(request, template, {
        "contact": contact, "form": form, "error": error,
        "lines": [(key, conversation, verdicts[key]) for key, conversation in lines.items()],
        "chosen": request.POST.get("line") or next((key for key, verdict in verdicts.items() if verdict), ""),
    }, status=400 if error else 200)


@require_GET
def conversation_older(request: HttpRequest, org_slug: str, conversation_id) -> HttpResponse:
    conversation = selectors.get_conversation_for_org(request.organization, conversation_id)
    before = request.GET.get("before")
    if not before:
        return _bad_request(request, "Say which message to load the older ones before.")
    messages, has_older = selectors.thread_items(organization=request.organization, conversation=conversation,
                                                 before=parse_public_id(before))
    return render(request, "messaging/_messages_older.html",
                  {"conversation": conversation, "thread_messages": messages, "has_older": has_older})


@require_POST
def conversation_send(request: HttpRequest, org_slug: str, conversation_id) -> HttpResponse:
    """Send a reply (or keep a private note). Answers with the new bubble; 400 with the reason."""
    organization = request.organization
    conversation = selectors.get_conversation_for_org(organization, conversation_id)
    form = SendForm(request.POST, request.FILES)
    if not form.is_valid():
        return _bad_request(request, _first_error(form))
    data = form.cleaned_data
    try:
        message = inbox_services.reply_send(organization=organization, actor=request.user, conversation=conversation,
                                            body=data["body"], upload=data["attachment"], note=data["note"])
    except ValidationError as exc:
        return _bad_request(request, _validation_message(exc))
    return render(request, "messaging/_bubble.html", {"message": message, "conversation": conversation},
                  status=201)


@require_POST
def conversation_update(request: HttpRequest, org_slug: str, conversation_id) -> HttpResponse:
    """Assign, change status (snooze until a time), label, mark unread. Answers with the thread head."""
    organization = request.organization
    conversation = selectors.get_conversation_for_org(organization, conversation_id)
    form = ConversationUpdateForm(request.POST)
    if not form.is_valid():
        return _bad_request(request, _first_error(form))
    data = form.cleaned_data
    agent = tenant_selectors.agent_for_user(organization=organization, user=request.user)
    changes = {}
    if data["status"]:
        changes.update(status=data["status"], snoozed_until=data["snooze_until"])
    if data["assignee"]:
        if data["assignee"] == "me":
            if agent is None:
                return _bad_request(request, "You are not an agent of this organization, so nothing can be "
                                             "assigned to you.")
            changes["assignee"] = agent
        elif data["assignee"] == "none":
            changes["assignee"] = None
        else:
            changes["assignee"] = tenant_selectors.get_agent_for_org(organization, data["assignee"])
    try:
        conversation = services.conversation_update(organization=organization, actor=request.user,
                                                    conversation=conversation, add_label=data["add_label"],
                                                    remove_label=data["remove_label"], **changes)
    except ValidationError as exc:
        return _bad_request(request, _validation_message(exc))
    if data["unread"]:
        services.conversation_mark_unread(organization=organization, conversation=conversation)
    conversation = selectors.get_conversation_for_org(organization, conversation.pk)
    return render(request, "messaging/_thread_head.html", _head_context(request, conversation, agent))


@require_POST
def contact_notes(request: HttpRequest, org_slug: str, contact_id) -> HttpResponse:
    organization = request.organization
    contact = crm_selectors.get_contact_for_org(organization, contact_id)
    form = ContactNotesForm(request.POST)
    if not form.is_valid():
        return _bad_request(request, _first_error(form))
    try:
        crm_services.contact_update_notes(organization=organization, actor=request.user, contact=contact,
                                          notes=form.cleaned_data["notes"])
    except ValidationError as exc:
        return _bad_request(request, _validation_message(exc))
    return HttpResponse("Saved.", content_type="text/plain; charset=utf-8")


@require_POST
def availability(request: HttpRequest, org_slug: str) -> HttpResponse:
    agent = tenant_selectors.request_agent(request)
    if agent is None:
        return _bad_request(request, "Only agents have an availability.")
    try:
        tenant_services.agent_set_availability(organization=request.organization, agent=agent,
                                              availability=request.POST.get("availability", ""))
    except ValidationError as exc:
        return _bad_request(request, _validation_message(exc))
    # The top bar shows what colleagues now see (away, or available if the softphone is live).
    status = presence.status_of([agent], request.organization.pk)[str(agent.pk)]
    return render(request, "messaging/_availability.html",
                  {"agent": agent, "presence": {"status": status, "label": presence.LABELS[status]}})


@require_GET
def inbox_poll(request: HttpRequest, org_slug: str) -> HttpResponse:
    """What changed since the tab's cursor. 204 when the organization's change counter has not moved
    (answered from Redis alone); otherwise the changed rows and messages, rendered, as JSON."""
    organization = request.organization
    cursor = parse_datetime(request.GET.get("cursor", "") or "")
    if cursor is None:
        return _bad_request(request, "The live view lost its place; reload the inbox.")
    filters, error, agent = _filters(request)
    if filters is None:
        return _bad_request(request, error)
    open_id = request.GET.get("c", "")
    version = live.inbox_version(organization, _watched(filters, agent, open_id))
    if live.unchanged(version, request.GET.get("v"), cursor):
        return HttpResponse(status=204)
    open_conversation = None
    if open_id:
        open_conversation = selectors.get_conversation_for_org(organization, open_id)
    now = timezone.now()
    changes = selectors.inbox_changes(organization=organization, agent=agent, filters=filters, since=cursor,
                                      open_conversation=open_conversation)
    if open_conversation is not None:
        services.conversation_read_by_open_tab(organization=organization, conversation=open_conversation,
                                               messages=changes.messages, since=cursor)
    open_id = str(open_conversation.pk) if open_conversation else ""
    payload = {
        "version": version, "cursor": (now - LIVE_OVERLAP).isoformat(),
        "token": live.live_token(organization, agent, user=request.user),
        "unread": selectors.unread_total_text(selectors.inbox_unread_total(organization=organization)),
        "rows": [{"id": str(row.pk), "sort": format_cursor(row),
                  "html": row_html(row, org_slug=organization.slug, open_id=open_id)} for row in changes.rows],
        "gone": [str(pk) for pk in changes.gone],
        "messages": [{"id": str(m.pk), "created": m.created_at.isoformat(), "html": _item_html(request, m)}
                     for m in changes.messages],
    }
    if changes.conversation is not None:
        conversation = changes.conversation
        payload["head"] = render_to_string("messaging/_thread_head.html",
                                           _head_context(request, conversation, agent), request=request)
        payload["verdict"] = render_to_string("messaging/_verdict.html", {"verdict": policy.may_send(conversation)})
    return JsonResponse(payload)


def _item_html(request, item) -> str:
    """One item of a thread: a message's bubble, or a call (both are placed by their `m-<id>`)."""
    if isinstance(item, Call):
        return render_to_string("messaging/_call.html", {"call": item}, request=request)
    return render_to_string("messaging/_bubble.html", {"message": item}, request=request)


@require_GET
def inbox_live(request: HttpRequest, token: str) -> HttpResponse:
    """The quiet path of the live inbox (see services/live.py): 204 while the organization's change
    counter is the one the tab has and its cursor is fresh; 200 "changed" to send the tab to the authenticated
    poll; 404 for a forged or expired token. Touches neither the session nor the database."""
    audience = live.live_token_audience(token)
    if audience is None:
        raise Http404("This live link is not valid or has expired.")
    cursor = parse_datetime(request.GET.get("cursor", "") or "")
    version = live.live_version(audience, live.watched(view=request.GET.get("view", ""), agent_id=audience.agent_id,
                                                       conversation_id=request.GET.get("c", "")))
    if version is None:  # the member was removed (or Redis lost the stamp): the tab asks the real poll
        raise Http404("This live link is not valid or has expired.")
    if live.unchanged(version, request.GET.get("v"), cursor):
        return HttpResponse(status=204)
    # A 200, not a 409: Django logs every 4xx answer as a warning, and this one is routine (a tab
    # learning that something changed), several times a second with many tabs open.
    return HttpResponse("changed", content_type="text/plain")


@require_safe
def attachment_public(request: HttpRequest, token: str) -> HttpResponse:
    """An outbound attachment, for the provider to fetch (a signed, expiring link: no login). An
    expired link is 410 and a forged one 404, each with the reason in words."""
    try:
        attachment = attachments.attachment_for_token(token)
    except attachments.LinkExpired as exc:
        return media_error(f"{exc} Send the file again from the inbox if it is still needed.", 410)
    except attachments.LinkInvalid as exc:
        return media_error(str(exc), 404)
    response = FileResponse(attachments.attachment_file(attachment), content_type=attachment.content_type)
    sealed(response)
    response["Cache-Control"] = "private, max-age=3600"
    return response


# Canned replies (managers) -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@manager_required(methods=["POST"])  # every member reads the list; managers add to it
def canned_replies(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = request.organization
    form = CannedReplyForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                inbox_services.canned_reply_create(organization=organization, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error("shortcut", exc.message_dict.get("shortcut"))
            else:
                messages.success(request, f"Canned reply /{form.cleaned_data['shortcut']} added.")
                return redirect("messaging:canned-replies", org_slug=org_slug)
    return render(request, "messaging/canned_replies.html", {
        "replies": selectors.canned_reply_list(organization=organization), "form": form},
        status=400 if form.errors else 200)


@require_POST
@manager_required
def canned_reply_delete(request: HttpRequest, org_slug: str, canned_reply_id) -> HttpResponse:
    reply = selectors.get_canned_reply_for_org(request.organization, canned_reply_id)
    inbox_services.canned_reply_delete(organization=request.organization, actor=request.user, reply=reply)
    messages.success(request, f"Canned reply /{reply.shortcut} deleted.")
    return redirect("messaging:canned-replies", org_slug=org_slug)


# Search by meaning beside a conversation (loaded after the thread, so opening one never waits for it) -


@require_GET
def conversation_suggestions(request: HttpRequest, org_slug: str, conversation_id) -> HttpResponse:
    """Replies for the customer's latest message: what agents answered to similar messages, and the
    nearest canned replies. Inserted into the composer by a click or its number key; never sent by itself."""
    conversation = selectors.get_conversation_for_org(request.organization, conversation_id)
    suggestions = search.suggested_replies(organization=request.organization, conversation=conversation,
                                           canned=selectors.canned_reply_list(organization=request.organization))
    return render(request, "messaging/_suggestions.html", {"suggestions": suggestions, "conversation": conversation})


@require_GET
def conversation_similar(request: HttpRequest, org_slug: str, conversation_id) -> HttpResponse:
    """Past conversations about what this customer says now, with how they ended."""
    conversation = selectors.get_conversation_for_org(request.organization, conversation_id)
    return render(request, "messaging/_similar.html", {
        "similar": search.similar_conversations(organization=request.organization, conversation=conversation),
        "conversation": conversation})
