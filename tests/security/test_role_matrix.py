"""The role matrix: every URL pattern of the project x who asks -> the answer they get.

Six people ask, each in their own session:

    anonymous  nobody logged in
    agent      Dana, an agent of Acme
    admin      Bob, an admin of Acme
    owner      Alice, the owner of Acme
    staff      a platform admin (is_staff), member of no organization
    outsider   Charlie, the owner of another organization (Globex)

Staff enter any organization as its owner would (tenants/middleware.py), so their column on an
organization's routes is the owner's.

One line per route and method: ``row(route, method, anonymous, agent, admin, owner, staff, outsider)``.
An answer is a status code; a path ("/o/acme/team/") is a 302 to exactly that path, and a path ending in
"*" a 302 to a path starting so; LOGIN and ADMIN_LOGIN are a 302 to the site's or the admin's login page
that comes back to the page asked for. The ids in a route are real objects of Acme (a conversation, a
number, an agent, ...), so a permitted role reaches the view itself and gets its real answer; what a
write sends is in PAYLOADS. Every request runs in a savepoint that is rolled back, so writes do not
change what the next one sees; a request that is refused (a 4xx, or sent to a login page) must not
have written a row either (PostgreSQL's per-transaction counters say).

The table must stay complete: a route without a row fails ``test_every_route_has_a_row`` (which prints
the line to add), a row whose route is gone fails it too, and a method a route accepts without a row
fails ``test_methods_without_a_row_are_refused`` (each of them must answer 405; the admin is left out:
Django's admin views take any method). The admin's model pages get their rows from ``admin.site`` (see
ADMIN_MODEL_PAGES); any other admin URL needs a row of its own. The owner protections and the races
around owners and invitations are in tests/tenants/test_owner_protection.py.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client, override_settings
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token

from crm.models import Contact
from messaging.models import Conversation, Message, WhatsAppSender
from messaging.services import inbox as inbox_services
from messaging.services import live
from softphone.simulator.twilio import FakeTwilio
from softphone.simulator.whatsapp import FakeWhatsApp
from telephony.models import PhoneNumber, Provider, ProviderAccount
from telephony.services import routing
from tenants import services as tenant_services
from tenants.models import Role
from tenants.scoping import tenant_scope
from tests import factories
from tests.routes import all_routes

ROLES = ("anonymous", "agent", "admin", "owner", "staff", "outsider")
_PARAMETER = re.compile(r"<(?:\w+:)?(?P<name>\w+)>")
LOGIN = "LOGIN"
ADMIN_LOGIN = "ADMIN_LOGIN"

O = "o/<slug:org_slug>/"  # noqa: E741 - the prefix of every page of an organization
A = "api/<slug:org_slug>/"

# Where pages send people back to (filled with the ids of the objects in the URL).
TEAM = "/o/acme/team/"
NUMBER = "/o/acme/numbers/{phone_number_id}/"
NUMBERS = "/o/acme/numbers/"
ACCOUNTS = "/o/acme/numbers/accounts/"
CANNED = "/o/acme/canned-replies/"
CLIENT = "/o/acme/clients/{client_id}/"
TEMPLATES = "/o/acme/whatsapp/templates/"
RULES = "/o/acme/calling-rules/"
CALL = "/o/acme/calls/{call_id}/"
ORDER = "/o/acme/orders/{order_id}/"
CONTACT = "/o/acme/contacts/{contact_id}/"
IMPORT = "/o/acme/contacts/import/{contact_import_id}/"
SENDERS = "/o/acme/whatsapp/senders/"
SENDER = "/o/acme/whatsapp/senders/{whatsapp_sender_id}/"


@dataclass(frozen=True)
class Row:
    route: str
    method: str
    expect: tuple


def row(route: str, method: str, *expect) -> Row:
    assert len(expect) == len(ROLES), f"{route} {method}: one answer per role {ROLES}"
    return Row(route, method, expect)


MATRIX = [
    # route                                            method  anonymous agent admin owner staff outsider
    # -- public, the accounts pages and the API description ----------------------------------------------
    row("healthz",                                     "GET",  200, 200, 200, 200, 200, 200),
    # Home: a member of one organization goes to it; staff, a member of none, get the list (empty).
    row("",                                            "GET",  LOGIN, "/o/acme/inbox/", "/o/acme/", "/o/acme/", 200,
        "/o/globex/"),
    row("accounts/login/",                             "GET",  200, "/", "/", "/", "/", "/"),
    row("accounts/login/",                             "POST", "/", "/", "/", "/", "/", "/"),
    # Django's LoginView handles PUT as POST (a FormView); CSRF applies to it as to a POST.
    row("accounts/login/",                             "PUT",  200, "/", "/", "/", "/", "/"),
    # Password reset: the same for everyone; the mail goes only to an active account's address.
    row("accounts/password-reset/",                    "GET",  200, 200, 200, 200, 200, 200),
    row("accounts/password-reset/",                    "POST", *["/accounts/password-reset/sent/"] * 6),
    row("accounts/password-reset/sent/",               "GET",  200, 200, 200, 200, 200, 200),
    # A real link for Alice: it is moved into the session, then the form asks for a new password.
    row("accounts/reset/<uidb64>/<token>/",            "GET",  *["/accounts/reset/*"] * 6),
    row("accounts/reset/<uidb64>/<token>/",            "POST", *["/accounts/reset/*"] * 6),
    row("accounts/reset/done/",                        "GET",  200, 200, 200, 200, 200, 200),
    row("accounts/logout/",                            "POST", "/accounts/login/", "/accounts/login/",
        "/accounts/login/", "/accounts/login/", "/accounts/login/", "/accounts/login/"),
    row("invite/<str:token>/",                         "GET",  200, 200, 200, 200, 200, 200),
    # Only the invitee (here: a new account) can accept; anyone else logged in is told it is not theirs.
    row("invite/<str:token>/",                         "POST", "/o/acme/", 400, 400, 400, 400, 400),
    row("api/schema/",                                 "GET",  200, 200, 200, 200, 200, 200),
    row("api/docs/",                                   "GET",  200, 200, 200, 200, 200, 200),
    # Signed links: the token is the credential, the session does not matter.
    row("attachments/<str:token>/",                    "GET",  200, 200, 200, 200, 200, 200),
    row("live/<str:token>/",                           "GET",  200, 200, 200, 200, 200, 200),
    # -- the simulated carrier: off unless SIMULATOR is on (as here), for everyone --------------------------
    row("simulator/twilio/<path:path>",                "GET",  404, 404, 404, 404, 404, 404),
    row("simulator/twilio/<path:path>",                "POST", 404, 404, 404, 404, 404, 404),
    row("simulator/twilio/<path:path>",                "DELETE", 404, 404, 404, 404, 404, 404),
    *[row(f"simulator/{vendor}/<path:path>", method, 404, 404, 404, 404, 404, 404)
      for vendor, methods in (("vapi", ("GET", "POST", "PATCH", "DELETE")), ("whatsapp", ("GET", "POST", "DELETE")),
                              ("vonage", ("GET", "POST")), ("bandwidth", ("GET", "POST", "PUT")))
      for method in methods],
    row("simulator/phone/",                            "GET",  LOGIN, 404, 404, 404, 404, 404),
    row("simulator/phone/",                            "POST", LOGIN, 404, 404, 404, 404, 404),
    row("simulator/phone/thread/",                     "GET",  LOGIN, 404, 404, 404, 404, 404),
    row("simulator/phone/call/",                       "POST", LOGIN, 404, 404, 404, 404, 404),
    # The browser's simulated device: its access token is its credential, as with Twilio.
    row("simulator/voice/device/",                     "POST", 404, 404, 404, 404, 404, 404),
    row("simulator/voice/connect/",                    "POST", 404, 404, 404, 404, 404, 404),
    row("simulator/voice/calls/<str:sid>/<str:action>/", "POST", 404, 404, 404, 404, 404, 404),
    # -- webhooks: unsigned requests are refused whoever sends them -------------------------------------
    row("webhooks/twilio/messages/",                   "POST", 403, 403, 403, 403, 403, 403),
    row("webhooks/twilio/messages/status/",            "POST", 403, 403, 403, 403, 403, 403),
    # Vonage checks an address with a GET before it takes it: answered, nothing read. A POST naming no
    # Vonage line of anyone's is a 404 (test_vonage.py signs real ones).
    row("webhooks/vonage/messages/",                   "GET",  200, 200, 200, 200, 200, 200),
    row("webhooks/vonage/messages/",                   "POST", 404, 404, 404, 404, 404, 404),
    row("webhooks/vonage/messages/status/",            "GET",  200, 200, 200, 200, 200, 200),
    row("webhooks/vonage/messages/status/",            "POST", 404, 404, 404, 404, 404, 404),
    # Bandwidth checks no address with a GET; a POST without its JSON array of events is a 400 before
    # any credential is looked at (test_bandwidth.py sends real ones).
    row("webhooks/bandwidth/messages/",                "GET",  405, 405, 405, 405, 405, 405),
    row("webhooks/bandwidth/messages/",                "POST", 400, 400, 400, 400, 400, 400),
    row("webhooks/bandwidth/messages/status/",         "GET",  405, 405, 405, 405, 405, 405),
    row("webhooks/bandwidth/messages/status/",         "POST", 400, 400, 400, 400, 400, 400),
    row("webhooks/twilio/voice/inbound/",              "POST", 403, 403, 403, 403, 403, 403),
    row("webhooks/twilio/voice/outbound/",             "POST", 403, 403, 403, 403, 403, 403),
    row("webhooks/twilio/voice/status/",               "POST", 403, 403, 403, 403, 403, 403),
    row("webhooks/twilio/voice/after-dial/",           "POST", 403, 403, 403, 403, 403, 403),
    row("webhooks/twilio/voice/voicemail/",            "POST", 403, 403, 403, 403, 403, 403),
    row("webhooks/twilio/voice/recording/",            "POST", 403, 403, 403, 403, 403, 403),
    # A signed link names one number's greeting: Twilio fetches it without a session.
    row("webhooks/twilio/voice/greeting/<str:token>/", "GET",  200, 200, 200, 200, 200, 200),
    # A conference's callbacks name the call's conference; the world's call never moved into one: 404
    # (the signature check is in tests/telephony/test_live_calls.py).
    row("webhooks/twilio/voice/conference/",           "POST", 404, 404, 404, 404, 404, 404),
    row("webhooks/twilio/voice/connect/",              "POST", 403, 403, 403, 403, 403, 403),
    # Hold music: the same TwiML for everyone, nothing of a tenant's in it.
    row("webhooks/twilio/voice/hold-music/",           "GET",  200, 200, 200, 200, 200, 200),
    row("webhooks/twilio/voice/hold-music/",           "POST", 200, 200, 200, 200, 200, 200),
    # VAPI presents its organization's secret in a header (X-Vapi-Secret); without one, 401.
    row("webhooks/vapi/",                              "POST", 401, 401, 401, 401, 401, 401),
    row("webhooks/whatsapp/",                          "GET",  403, 403, 403, 403, 403, 403),
    row("webhooks/whatsapp/",                          "POST", 403, 403, 403, 403, 403, 403),
    # -- an organization's pages: members work, owners and admins manage --------------------------------
    row(O,                                             "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "team/",                                   "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "team/invitations/",                       "POST", LOGIN, 403, TEAM, TEAM, TEAM, 404),
    row(O + "team/invitations/<uuid:invitation_id>/revoke/", "POST", LOGIN, 403, TEAM, TEAM, TEAM, 404),
    row(O + "team/members/<uuid:membership_id>/role/", "POST", LOGIN, 403, TEAM, TEAM, TEAM, 404),
    # Which clients a member sees, and what agents see: managers only.
    row(O + "team/members/<uuid:membership_id>/clients/", "GET", LOGIN, 403, 200, 200, 200, 404),
    row(O + "team/members/<uuid:membership_id>/clients/", "POST", LOGIN, 403, TEAM, TEAM, TEAM, 404),
    row(O + "team/agent-visibility/",                  "POST", LOGIN, 403, TEAM, TEAM, TEAM, 404),
    row(O + "team/members/<uuid:membership_id>/remove/", "POST", LOGIN, 403, TEAM, TEAM, TEAM, 404),
    row(O + "agents/new/",                             "POST", LOGIN, 403, TEAM, TEAM, TEAM, 404),
    row(O + "agents/<uuid:agent_id>/edit/",            "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "agents/<uuid:agent_id>/edit/",            "POST", LOGIN, 403, TEAM, TEAM, TEAM, 404),
    row(O + "agents/<uuid:agent_id>/delete/",          "POST", LOGIN, 403, TEAM, TEAM, TEAM, 404),
    row(O + "numbers/",                                "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "numbers/assign/",                         "POST", LOGIN, 403, NUMBERS, NUMBERS, NUMBERS, 404),
    row(O + "numbers/search/",                         "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "numbers/buy/",                            "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "numbers/buy/",                            "POST", LOGIN, 403, NUMBERS + "*", NUMBERS + "*",
        NUMBERS + "*", 404),
    row(O + "numbers/import/",                         "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "numbers/import/start/",                   "POST", LOGIN, 403, "/o/acme/jobs/*", "/o/acme/jobs/*",
        "/o/acme/jobs/*", 404),
    row(O + "numbers/accounts/",                       "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "numbers/accounts/connect/<str:provider>/", "POST", LOGIN, 403, ACCOUNTS, ACCOUNTS, ACCOUNTS, 404),
    row(O + "numbers/accounts/<uuid:provider_account_id>/sync/", "POST", LOGIN, 403, ACCOUNTS, ACCOUNTS,
        ACCOUNTS, 404),
    row(O + "numbers/accounts/<uuid:provider_account_id>/delete/", "POST", LOGIN, 403, ACCOUNTS, ACCOUNTS,
        ACCOUNTS, 404),
    row(O + "numbers/accounts/<uuid:provider_account_id>/repair-webhooks/", "POST", LOGIN, 403, ACCOUNTS, ACCOUNTS,
        ACCOUNTS, 404),
    row(O + "numbers/accounts/<uuid:provider_account_id>/voice/", "POST", LOGIN, 403, ACCOUNTS, ACCOUNTS,
        ACCOUNTS, 404),
    row(O + "numbers/<uuid:phone_number_id>/",         "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "numbers/<uuid:phone_number_id>/assign/",  "POST", LOGIN, 403, NUMBER, NUMBER, NUMBER, 404),
    row(O + "numbers/<uuid:phone_number_id>/rename/",  "POST", LOGIN, 403, NUMBER, NUMBER, NUMBER, 404),
    row(O + "numbers/<uuid:phone_number_id>/repair/",  "POST", LOGIN, 403, NUMBER, NUMBER, NUMBER, 404),
    row(O + "numbers/<uuid:phone_number_id>/platform-sync/", "POST", LOGIN, 403, NUMBER, NUMBER, NUMBER, 404),
    row(O + "numbers/<uuid:phone_number_id>/remove/",  "POST", LOGIN, 403, NUMBERS, NUMBERS, NUMBERS, 404),
    row(O + "numbers/<uuid:phone_number_id>/voice/",   "POST", LOGIN, 403, NUMBER, NUMBER, NUMBER, 404),
    row(O + "calling-rules/",                          "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "calling-rules/",                          "POST", LOGIN, 403, RULES, RULES, RULES, 404),
    row(O + "jobs/<uuid:job_id>/",                     "GET",  LOGIN, 403, 200, 200, 200, 404),
    # The softphone: its tokens and heartbeat are each person's own (404 for someone who is no agent).
    row(O + "telephony/token",                         "GET",  LOGIN, 200, 404, 404, 404, 404),
    row(O + "telephony/presence",                      "POST", LOGIN, 200, 404, 404, 404, 404),
    # A live call's buttons: only the agent on the call controls it (the world's call is another agent's).
    row(O + "calls/live/",                             "GET",  LOGIN, 404, 404, 404, 404, 404),
    row(O + "calls/transfer-targets/",                 "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "calls/<uuid:call_id>/hold/",              "POST", LOGIN, 403, 403, 403, 403, 404),
    row(O + "calls/<uuid:call_id>/transfer/",          "POST", LOGIN, 403, 403, 403, 403, 404),
    row(O + "calls/<uuid:call_id>/transfer/complete/", "POST", LOGIN, 403, 403, 403, 403, 404),
    row(O + "calls/<uuid:call_id>/transfer/cancel/",   "POST", LOGIN, 403, 403, 403, 403, 404),
    row(O + "media/<uuid:message_id>/<int:index>/",    "GET",  LOGIN, 200, 200, 200, 200, 404),
    # Calls: every member reads the log and a call's page, plays its recording and writes its notes.
    row(O + "calls/",                                  "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "calls/<uuid:call_id>/",                   "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "contacts/",                               "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "contacts/export.csv",                     "GET",  LOGIN, 200, 200, 200, 200, 404),
    # Importing contacts from CSV: owners and admins (the upload shows its preview; confirming applies it).
    row(O + "contacts/import/",                        "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "contacts/import/",                        "POST", LOGIN, 403, "/o/acme/contacts/import/*",
        "/o/acme/contacts/import/*", "/o/acme/contacts/import/*", 404),
    row(O + "contacts/import/<uuid:contact_import_id>/",       "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "contacts/import/<uuid:contact_import_id>/",       "POST", LOGIN, 403, IMPORT, IMPORT, IMPORT, 404),
    row(O + "contacts/<uuid:contact_id>/",             "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "contacts/<uuid:contact_id>/",             "POST", LOGIN, 200, 200, 200, 200, 404),
    # Merging contacts: owners and admins (Ana, the WhatsApp contact, merged into the world's contact).
    row(O + "contacts/<uuid:contact_id>/merge/",       "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "contacts/<uuid:contact_id>/merge/<uuid:duplicate_id>/", "GET", LOGIN, 403, 200, 200, 200, 404),
    row(O + "contacts/<uuid:contact_id>/merge/<uuid:duplicate_id>/", "POST", LOGIN, 403, CONTACT, CONTACT, CONTACT,
        404),
    row(O + "orders/",                                 "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "orders/totals/",                          "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "orders/<uuid:order_id>/",                 "GET",  LOGIN, 200, 200, 200, 200, 404),
    # "#1001" in a message: the world's order (a number an outsider's organization does not have).
    row(O + "orders/number/<int:number>/",             "GET",  LOGIN, ORDER, ORDER, ORDER, ORDER, 404),
    row(O + "calls/<uuid:call_id>/notes/",             "POST", LOGIN, CALL, CALL, CALL, CALL, 404),
    row(O + "calls/<uuid:call_id>/recording/",         "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/",                                  "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/list/",                             "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/poll/",                             "GET",  LOGIN, 200, 200, 200, 200, 404),
    # Only agents have an availability: the others are told so.
    row(O + "inbox/availability/",                     "POST", LOGIN, 200, 400, 400, 400, 404),
    # Opened outside htmx (a link in a new tab): the whole inbox with the conversation open.
    row(O + "inbox/c/<uuid:conversation_id>/",         "GET",  LOGIN, *["/o/acme/inbox/?c={conversation_id}"] * 4,
        404),
    # A call's "open conversation": the contact's one conversation on that number (the world's).
    row(O + "inbox/with/<uuid:contact_id>/<uuid:phone_number_id>/", "GET", LOGIN,
        *["/o/acme/inbox/?c={conversation_id}"] * 4, 404),
    row(O + "inbox/c/<uuid:conversation_id>/older/",   "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/c/<uuid:conversation_id>/send/",    "POST", LOGIN, 201, 201, 201, 201, 404),
    row(O + "inbox/c/<uuid:conversation_id>/update/",  "POST", LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/contacts/<uuid:contact_id>/notes/", "POST", LOGIN, 200, 200, 200, 200, 404),
    # Writing to a contact from their page: from the world's number, into their conversation there.
    row(O + "inbox/contacts/<uuid:contact_id>/write/", "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/contacts/<uuid:contact_id>/write/", "POST", LOGIN, *["/o/acme/inbox/?c={conversation_id}"] * 4,
        404),
    row(O + "inbox/c/<uuid:conversation_id>/orders/",  "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/c/<uuid:conversation_id>/suggestions/", "GET", LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/c/<uuid:conversation_id>/similar/", "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/c/<uuid:conversation_id>/orders/new/", "POST", LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/c/<uuid:conversation_id>/orders/<uuid:order_id>/transition/", "POST",
        LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/c/<uuid:conversation_id>/orders/<uuid:order_id>/update/", "POST",
        LOGIN, 200, 200, 200, 200, 404),
    # A WhatsApp template in a conversation: nothing chosen shows nothing; sending nothing is refused.
    row(O + "inbox/c/<uuid:conversation_id>/template/", "GET", LOGIN, 200, 200, 200, 200, 404),
    row(O + "inbox/c/<uuid:conversation_id>/template/", "POST", LOGIN, 400, 400, 400, 400, 404),
    row(O + "whatsapp/templates/",                     "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "whatsapp/templates/sync/<uuid:whatsapp_sender_id>/", "POST", LOGIN, 403, TEMPLATES, TEMPLATES,
        TEMPLATES, 404),
    row(O + "whatsapp/templates/sync/twilio/<uuid:provider_account_id>/", "POST", LOGIN, 403, TEMPLATES, TEMPLATES,
        TEMPLATES, 404),
    # Clients: every member reads them; owners and admins add, edit and archive them.
    row(O + "clients/",                                "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "clients/",                                "POST", LOGIN, 403, "/o/acme/clients/*", "/o/acme/clients/*",
        "/o/acme/clients/*", 404),
    row(O + "clients/<uuid:client_id>/",               "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "clients/<uuid:client_id>/",               "POST", LOGIN, 403, CLIENT, CLIENT, CLIENT, 404),
    row(O + "clients/<uuid:client_id>/archive/",       "POST", LOGIN, 403, CLIENT, CLIENT, CLIENT, 404),
    row(O + "canned-replies/",                         "GET",  LOGIN, 200, 200, 200, 200, 404),
    row(O + "canned-replies/",                         "POST", LOGIN, 403, CANNED, CANNED, CANNED, 404),
    row(O + "canned-replies/<uuid:canned_reply_id>/delete/", "POST", LOGIN, 403, CANNED, CANNED, CANNED, 404),
    # WhatsApp senders: owners and admins, as provider accounts (removing one: the unused sender).
    row(O + "whatsapp/senders/",                       "GET",  LOGIN, 403, 200, 200, 200, 404),
    row(O + "whatsapp/senders/connect/",               "POST", LOGIN, 403, SENDERS + "*", SENDERS + "*",
        SENDERS + "*", 404),
    row(O + "whatsapp/senders/<uuid:whatsapp_sender_id>/", "GET", LOGIN, 403, 200, 200, 200, 404),
    row(O + "whatsapp/senders/<uuid:whatsapp_sender_id>/", "POST", LOGIN, 403, SENDER, SENDER, SENDER, 404),
    row(O + "whatsapp/senders/<uuid:whatsapp_sender_id>/switch/", "POST", LOGIN, 403, SENDER, SENDER, SENDER, 404),
    row(O + "whatsapp/senders/<uuid:whatsapp_sender_id>/check/", "POST", LOGIN, 403, SENDER, SENDER, SENDER, 404),
    row(O + "whatsapp/senders/<uuid:whatsapp_sender_id>/delete/", "POST", LOGIN, 403, SENDERS, SENDERS, SENDERS,
        404),
    # -- the REST API: 401 without credentials, 404 outside one's organization -------------------------
    row(A + "agents",                                  "GET",    401, 200, 200, 200, 200, 404),
    row(A + "clients",                                 "GET",    401, 200, 200, 200, 200, 404),
    row(A + "clients",                                 "POST",   401, 403, 201, 201, 201, 404),
    row(A + "clients/<uuid:client_id>",                "GET",    401, 200, 200, 200, 200, 404),
    row(A + "clients/<uuid:client_id>",                "PATCH",  401, 403, 200, 200, 200, 404),
    row(A + "agents",                                  "POST",   401, 403, 201, 201, 201, 404),
    row(A + "agents/<uuid:agent_id>",                  "GET",    401, 200, 200, 200, 200, 404),
    row(A + "agents/<uuid:agent_id>",                  "PATCH",  401, 403, 200, 200, 200, 404),
    row(A + "agents/<uuid:agent_id>",                  "DELETE", 401, 403, 204, 204, 204, 404),
    row(A + "members",                                 "GET",    401, 200, 200, 200, 200, 404),
    row(A + "members/<uuid:membership_id>",            "GET",    401, 403, 200, 200, 200, 404),
    row(A + "members/<uuid:membership_id>",            "PATCH",  401, 403, 200, 200, 200, 404),
    row(A + "settings",                                "GET",    401, 200, 200, 200, 200, 404),
    row(A + "settings",                                "PATCH",  401, 403, 200, 200, 200, 404),
    row(A + "provider-accounts",                       "GET",    401, 403, 200, 200, 200, 404),
    row(A + "provider-accounts",                       "POST",   401, 403, 201, 201, 201, 404),
    row(A + "provider-accounts/<uuid:provider_account_id>", "GET", 401, 403, 200, 200, 200, 404),
    row(A + "provider-accounts/<uuid:provider_account_id>", "PATCH", 401, 403, 200, 200, 200, 404),
    row(A + "provider-accounts/<uuid:provider_account_id>", "DELETE", 401, 403, 204, 204, 204, 404),
    row(A + "provider-accounts/<uuid:provider_account_id>/sync", "POST", 401, 403, 202, 202, 202, 404),
    # The world's account is Twilio's, whose webhooks are per number: a 400 in words for managers.
    row(A + "provider-accounts/<uuid:provider_account_id>/repair-webhooks", "POST", 401, 403, 400, 400, 400, 404),
    row(A + "provider-accounts/<uuid:provider_account_id>/voice", "POST", 401, 403, 202, 202, 202, 404),
    row(A + "phone-numbers",                           "GET",    401, 200, 200, 200, 200, 404),
    row(A + "phone-numbers",                           "POST",   401, 403, 201, 201, 201, 404),
    row(A + "phone-numbers/<str:provider>/available",  "POST",   401, 403, 200, 200, 200, 404),
    row(A + "phone-numbers/buy",                       "POST",   401, 403, 201, 201, 201, 404),
    row(A + "phone-numbers/import",                    "POST",   401, 403, 202, 202, 202, 404),
    row(A + "phone-numbers/<uuid:phone_number_id>",    "GET",    401, 200, 200, 200, 200, 404),
    row(A + "phone-numbers/<uuid:phone_number_id>",    "PATCH",  401, 403, 200, 200, 200, 404),
    row(A + "phone-numbers/<uuid:phone_number_id>",    "DELETE", 401, 403, 202, 202, 202, 404),
    row(A + "phone-numbers/<uuid:phone_number_id>/repair-webhooks", "POST", 401, 403, 200, 200, 200, 404),
    row(A + "jobs/<uuid:job_id>",                      "GET",    401, 403, 200, 200, 200, 404),
    row(A + "calls",                                   "GET",    401, 200, 200, 200, 200, 404),
    # Placing a call: only from one's own number (the world's number is another agent's): 400.
    row(A + "calls",                                   "POST",   401, 400, 400, 400, 400, 404),
    row(A + "calls/<uuid:call_id>",                    "GET",    401, 200, 200, 200, 200, 404),
    row(A + "contacts",                                "GET",    401, 200, 200, 200, 200, 404),
    row(A + "contacts/<uuid:contact_id>",              "GET",    401, 200, 200, 200, 200, 404),
    row(A + "contacts/<uuid:contact_id>",              "PATCH",  401, 200, 200, 200, 200, 404),
    row(A + "contacts/merge",                          "POST",   401, 403, 201, 201, 201, 404),
    # Orders: any member takes and moves them (agents take orders in the chat).
    row(A + "contacts/<uuid:contact_id>/orders",       "GET",    401, 200, 200, 200, 200, 404),
    row(A + "contacts/<uuid:contact_id>/orders",       "POST",   401, 201, 201, 201, 201, 404),
    row(A + "orders",                                  "GET",    401, 200, 200, 200, 200, 404),
    row(A + "orders/<uuid:order_id>",                  "GET",    401, 200, 200, 200, 200, 404),
    row(A + "orders/<uuid:order_id>",                  "PATCH",  401, 200, 200, 200, 200, 404),
    row(A + "orders/<uuid:order_id>/transitions",      "POST",   401, 200, 200, 200, 200, 404),
    row(A + "conversations",                           "GET",    401, 200, 200, 200, 200, 404),
    row(A + "search",                                  "GET",    401, 200, 200, 200, 200, 404),
    row(A + "conversations/<uuid:conversation_id>",    "GET",    401, 200, 200, 200, 200, 404),
    row(A + "conversations/<uuid:conversation_id>",    "PATCH",  401, 200, 200, 200, 200, 404),
    row(A + "conversations/<uuid:conversation_id>/messages", "GET", 401, 200, 200, 200, 200, 404),
    row(A + "conversations/<uuid:conversation_id>/messages", "POST", 401, 202, 202, 202, 202, 404),
    row(A + "messages",                                "POST",   401, 202, 202, 202, 202, 404),
    row(A + "whatsapp-senders",                        "GET",    401, 403, 200, 200, 200, 404),
    row(A + "whatsapp-senders",                        "POST",   401, 403, 201, 201, 201, 404),
    row(A + "whatsapp-senders/<uuid:whatsapp_sender_id>", "GET", 401, 403, 200, 200, 200, 404),
    row(A + "whatsapp-senders/<uuid:whatsapp_sender_id>", "PATCH", 401, 403, 200, 200, 200, 404),
    row(A + "whatsapp-senders/<uuid:whatsapp_sender_id>", "DELETE", 401, 403, 204, 204, 204, 404),
    row(A + "whatsapp-senders/<uuid:whatsapp_sender_id>/check", "POST", 401, 403, 200, 200, 200, 404),
    # -- the admin: staff only (its model pages: ADMIN_MODEL_PAGES below) ------------------------------
    row("admin/",                                      "GET",  *[ADMIN_LOGIN] * 4, 200, ADMIN_LOGIN),
    row("admin/login/",                                "GET",  200, 200, 200, 200, "/admin/", 200),
    # The admin's logout sends whoever is not staff to the admin's index (and from there to its login).
    row("admin/logout/",                               "POST", *["/admin/"] * 4, "/accounts/login/", "/admin/"),
    row("admin/password_change/",                      "GET",  *[ADMIN_LOGIN] * 4, 200, ADMIN_LOGIN),
    row("admin/password_change/done/",                 "GET",  *[ADMIN_LOGIN] * 4, 200, ADMIN_LOGIN),
    row("admin/autocomplete/",                         "GET",  *[ADMIN_LOGIN] * 4, 403, ADMIN_LOGIN),
    row("admin/jsi18n/",                               "GET",  *[ADMIN_LOGIN] * 4, 200, ADMIN_LOGIN),
    row("admin/r/<path:content_type_id>/<path:object_id>/", "GET", *[ADMIN_LOGIN] * 4, 404, ADMIN_LOGIN),
    row("admin/^(?P<app_label>auth|axes|authtoken|tenants|crm|telephony|messaging)/", "GET",
        *[ADMIN_LOGIN] * 4, 200, ADMIN_LOGIN),
    row("admin/(?P<url>.*)",                           "GET",  *[ADMIN_LOGIN] * 4, 404, ADMIN_LOGIN),
]

# The admin's pages of every registered model: (method, page) -> what staff get; everyone else is sent
# to the admin's login. A POST sends an empty form: staff see the page again with its errors (the list
# and the delete page ask for a choice or a confirmation), and nothing is saved.
ADMIN_MODEL_PAGES = {
    ("GET", ""): 200,  # the list
    ("POST", ""): 200,
    ("GET", "add/"): 200,
    ("POST", "add/"): 200,
    ("GET", "<path:object_id>/history/"): 200,
    ("GET", "<path:object_id>/delete/"): 200,
    ("POST", "<path:object_id>/delete/"): 200,
    ("GET", "<path:object_id>/change/"): 200,
    ("POST", "<path:object_id>/change/"): 200,
    ("GET", "<path:object_id>/"): "/admin/{app}/{model}/{object_id}/change/",
}
# Admins that are read-only in part, and what staff get there instead.
ADMIN_MODEL_EXCEPTIONS = {
    ("tenants.auditevent", "POST", "add/"): 403, ("tenants.auditevent", "GET", "add/"): 403,
    ("tenants.auditevent", "POST", "<path:object_id>/change/"): 403,
    ("tenants.job", "POST", "add/"): 403, ("tenants.job", "GET", "add/"): 403,
    ("messaging.inboundevent", "POST", "add/"): 403, ("messaging.inboundevent", "GET", "add/"): 403,
    ("messaging.inbounddrain", "POST", "add/"): 403, ("messaging.inbounddrain", "GET", "add/"): 403,
    ("telephony.calldrain", "POST", "add/"): 403, ("telephony.calldrain", "GET", "add/"): 403,
    # Label counts are kept by a trigger: staff read them only.
    ("messaging.labeluse", "POST", "add/"): 403, ("messaging.labeluse", "GET", "add/"): 403,
    ("messaging.labeluse", "POST", "<path:object_id>/change/"): 403,
    ("crm.contactlabeluse", "POST", "add/"): 403, ("crm.contactlabeluse", "GET", "add/"): 403,
    ("crm.contactlabeluse", "POST", "<path:object_id>/change/"): 403,
    # Orders are numbered and recorded by crm.services: nothing to add by hand; lines are added on their order.
    **{(f"crm.{model}", method, "add/"): 403 for model in ("order", "orderitem", "orderstatuschange", "ordercounter")
       for method in ("GET", "POST")},
    ("crm.orderstatuschange", "POST", "<path:object_id>/change/"): "/admin/crm/orderstatuschange/",
    # A merge's record: kept as it happened (its number keeps reaching the contact), never added, changed or removed.
    **{("crm.contactmerge", method, page): 403 for method in ("GET", "POST")
       for page in ("add/", "<path:object_id>/delete/")},
    ("crm.contactmerge", "POST", "<path:object_id>/change/"): 403,
    # A CSV import's record: made and applied on the contacts page; staff may only read (or remove) it.
    ("crm.contactimport", "GET", "add/"): 403, ("crm.contactimport", "POST", "add/"): 403,
    ("crm.contactimport", "POST", "<path:object_id>/change/"): 403,
    ("crm.ordercounter", "POST", "<path:object_id>/change/"): "/admin/crm/ordercounter/",
    # WhatsApp templates are written and reviewed at the vendor and synced: staff read them only.
    ("messaging.whatsapptemplate", "GET", "add/"): 403, ("messaging.whatsapptemplate", "POST", "add/"): 403,
    ("messaging.whatsapptemplate", "POST", "<path:object_id>/change/"): 403,
    # Which clients a limited member sees: set on the Team page (tenants.services.membership_set_clients).
    ("tenants.clientaccess", "GET", "add/"): 403, ("tenants.clientaccess", "POST", "add/"): 403,
    ("tenants.clientaccess", "POST", "<path:object_id>/change/"): 403,
    # django-axes' records of sign-in attempts: read-only, nothing to add.
    **{(f"axes.{model}", method, "add/"): 403 for model in ("accessattempt", "accesslog", "accessfailurelog")
       for method in ("GET", "POST")},
    **{(f"axes.{model}", "POST", "<path:object_id>/change/"): f"/admin/axes/{model}/"
       for model in ("accessattempt", "accesslog", "accessfailurelog")},
    # Every field read-only: an empty form is a valid one, saved unchanged.
    ("tenants.job", "POST", "<path:object_id>/change/"): "/admin/tenants/job/",
    ("messaging.inboundevent", "POST", "<path:object_id>/change/"): "/admin/messaging/inboundevent/",
    ("messaging.inbounddrain", "POST", "<path:object_id>/change/"): "/admin/messaging/inbounddrain/",
    ("telephony.calldrain", "POST", "<path:object_id>/change/"): "/admin/telephony/calldrain/",
}


def _admin_model_rows() -> list[Row]:
    rows = []
    for model in admin.site._registry:
        label = model._meta.label_lower
        base = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        for (method, suffix), staff in ADMIN_MODEL_PAGES.items():
            staff = ADMIN_MODEL_EXCEPTIONS.get((label, method, suffix), staff)
            rows.append(row(base + suffix, method, *[ADMIN_LOGIN] * 4, staff, ADMIN_LOGIN))
    return rows


def _special_admin_rows() -> list[Row]:
    return [row("admin/tenants/user/<id>/password/", "GET", *[ADMIN_LOGIN] * 4, 200, ADMIN_LOGIN),
            row("admin/tenants/user/<id>/password/", "POST", *[ADMIN_LOGIN] * 4, 200, ADMIN_LOGIN)]


def full_matrix() -> list[Row]:
    return MATRIX + _admin_model_rows() + _special_admin_rows()


# What the writes send (a dict of form fields, or of JSON fields for the API), and the query of a GET.
# Called with the world, per request, so each can be fresh.
PAYLOADS = {
    ("accounts/login/", "POST"): lambda w: {"username": "alice", "password": factories.PASSWORD},
    ("accounts/password-reset/", "POST"): lambda w: {"email": "nobody@example.com"},
    ("invite/<str:token>/", "POST"): lambda w: {"full_name": "Erin Example", "password1": "a-long-new-passphrase-1",
                                                "password2": "a-long-new-passphrase-1"},
    ("webhooks/twilio/messages/", "POST"): lambda w: {"AccountSid": w.account.account_sid, "From": "+14155550188",
                                                      "To": w.number.phone_number, "Body": "hi",
                                                      "MessageSid": "SM" + "1" * 32},
    ("webhooks/twilio/messages/status/", "POST"): lambda w: {"AccountSid": w.account.account_sid,
                                                             "From": w.number.phone_number, "To": "+14155550188",
                                                             "MessageSid": w.world["message"].provider_sid,
                                                             "MessageStatus": "delivered"},
    ("webhooks/twilio/voice/inbound/", "POST"): lambda w: {"AccountSid": w.account.account_sid, "From": "+14155550188",
                                                           "To": w.number.phone_number, "CallSid": "CA" + "1" * 32},
    ("webhooks/twilio/voice/outbound/", "POST"): lambda w: {
        "AccountSid": w.account.account_sid, "From": "client:agent_" + w.world["agent"].pk.hex, "To": "+14155550188",
        "CallSid": "CA" + "2" * 32},
    **{(f"webhooks/twilio/voice/{name}/", "POST"): (lambda w: {
        "AccountSid": w.account.account_sid, "CallSid": w.world["call"].provider_sid, "CallStatus": "completed",
        "DialCallStatus": "no-answer", "RecordingSid": "RE" + "3" * 32, "RecordingStatus": "completed",
        "RecordingUrl": "https://api.twilio.com/x"}) for name in ("status", "after-dial", "voicemail", "recording")},
    ("webhooks/twilio/voice/conference/", "POST"): lambda w: {
        "AccountSid": w.account.account_sid, "ConferenceSid": "CF" + "4" * 32,
        "FriendlyName": "call_" + w.world["call"].pk.hex, "StatusCallbackEvent": "participant-join",
        "CallSid": w.world["call"].provider_sid},
    ("webhooks/twilio/voice/connect/", "POST"): lambda w: {
        "AccountSid": w.account.account_sid, "CallSid": w.world["call"].provider_sid, "CallStatus": "in-progress"},
    (O + "calls/live/", "GET"): lambda w: {"sid": w.world["call"].provider_sid},
    (O + "calls/<uuid:call_id>/hold/", "POST"): lambda w: {"hold": "1"},
    (O + "calls/<uuid:call_id>/transfer/", "POST"): lambda w: {"to": w.world["agent"].pk, "mode": "warm"},
    ("webhooks/vapi/", "POST"): lambda w: {"message": {
        "type": "end-of-call-report", "endedReason": "customer-ended-call", "artifact": {}, "analysis": {},
        "call": {"id": "vapi-matrix-call", "phoneNumberId": "vapi-matrix-number"}, "customer": {"number": "+14155550188"}}},
    ("webhooks/whatsapp/", "GET"): lambda w: {"hub.mode": "subscribe", "hub.verify_token": "a guess",
                                              "hub.challenge": "1"},
    ("webhooks/whatsapp/", "POST"): lambda w: {"object": "whatsapp_business_account", "entry": [{"changes": [{
        "field": "messages", "value": {"metadata": {"phone_number_id": w.sender.phone_number_id}}}]}]},
    (O + "team/invitations/", "POST"): lambda w: {"email": "new.person@example.com", "role": "agent"},
    (O + "team/members/<uuid:membership_id>/role/", "POST"): lambda w: {"role": "admin"},
    (O + "team/members/<uuid:membership_id>/clients/", "POST"): lambda w: {"access": "some",
                                                                          "clients": [str(w.world["client"].pk)]},
    (O + "team/agent-visibility/", "POST"): lambda w: {"agent_visibility": "own"},
    (A + "members/<uuid:membership_id>", "PATCH"): lambda w: {"limitedToClients": True,
                                                              "clientIds": [str(w.world["client"].pk)]},
    (A + "settings", "PATCH"): lambda w: {"agentVisibility": "own"},
    (O + "agents/new/", "POST"): lambda w: {"name": "Night bot", "kind": "ai", "assistant_id": "5f0c6a52-7d7c-4b8e-9d3a-2f1e8c9b0a11"},
    (O + "agents/<uuid:agent_id>/edit/", "POST"): lambda w: {"name": "Renamed", "kind": "human",
                                                              "user": w.world["membership"].user_id},
    (O + "telephony/presence", "POST"): lambda w: {"state": "registered"},
    (O + "numbers/assign/", "POST"): lambda w: {"numbers": [w.number.pk], "agent": w.world["agent"].pk},
    (O + "numbers/buy/", "GET"): lambda w: {"account": w.account.pk, "phone_number": "+14155550177"},
    (O + "numbers/buy/", "POST"): lambda w: {"account": w.account.pk, "phone_number": w.fresh_number()},
    (O + "numbers/import/", "GET"): lambda w: {"account": w.account.pk},
    (O + "numbers/import/start/", "POST"): lambda w: {"account": w.account.pk, "all": "1"},
    (O + "numbers/accounts/connect/<str:provider>/", "POST"): lambda w: {
        "account_sid": SPARE_SID, "auth_token": SPARE_TOKEN, "friendly_name": "Spare", "webhook_mode": "per_number"},
    (O + "numbers/<uuid:phone_number_id>/assign/", "POST"): lambda w: {"agent": w.world["agent"].pk},
    (O + "numbers/<uuid:phone_number_id>/rename/", "POST"): lambda w: {"friendly_name": "Front desk"},
    (O + "numbers/accounts/<uuid:provider_account_id>/voice/", "POST"): lambda w: {"enabled": "1"},
    (O + "numbers/<uuid:phone_number_id>/voice/", "POST"): lambda w: {
        "ring_timeout": "25", "voicemail_greeting": "Leave a message after the tone."},
    (O + "calling-rules/", "POST"): lambda w: {"allow_premium_rate": "on", "allowed_prefixes": "+1900555"},
    (O + "inbox/poll/", "GET"): lambda w: {"cursor": timezone.now().isoformat()},
    (O + "calls/", "GET"): lambda w: {"missed": "on"},
    (O + "calls/<uuid:call_id>/notes/", "POST"): lambda w: {"notes": "Called back, order 1042 refunded"},
    (A + "calls", "POST"): lambda w: {"fromNumberId": str(w.number.pk), "to": "+14155550177"},
    (A + "calls", "GET"): lambda w: {"voicemail": "true", "phoneNumberId": str(w.number.pk)},
    (O + "inbox/availability/", "POST"): lambda w: {"availability": "away"},
    (O + "inbox/c/<uuid:conversation_id>/older/", "GET"): lambda w: {"before": w.world["message"].pk},
    (O + "inbox/c/<uuid:conversation_id>/send/", "POST"): lambda w: {"body": "A note for the team", "note": "on"},
    (O + "inbox/c/<uuid:conversation_id>/update/", "POST"): lambda w: {"status": "done"},
    (O + "inbox/contacts/<uuid:contact_id>/notes/", "POST"): lambda w: {"notes": "Prefers mornings"},
    (O + "contacts/import/", "POST"): lambda w: {"country": "US", "file": SimpleUploadedFile(
        "customers.csv", b"phone,name\n+14155550177,Imported Ida\n", content_type="text/csv")},
    (O + "inbox/contacts/<uuid:contact_id>/write/", "POST"): lambda w: {"line": f"n:{w.number.pk}",
                                                                       "body": "Your order has shipped"},
    (O + "orders/totals/", "GET"): lambda w: {"status": "pending"},
    (O + "contacts/<uuid:contact_id>/", "POST"): lambda w: {"name": "Renamed", "email": "", "notes": ""},
    (A + "contacts/<uuid:contact_id>", "PATCH"): lambda w: {"name": "Renamed"},
    (A + "contacts/merge", "POST"): lambda w: {"survivorId": str(w.ids["contact_id"]),
                                                "duplicateId": str(w.ids["duplicate_id"])},
    (O + "inbox/c/<uuid:conversation_id>/orders/new/", "POST"): lambda w: {
        "item_name": "Coffee beans", "item_quantity": "2", "item_price": "12.50"},
    (O + "inbox/c/<uuid:conversation_id>/orders/<uuid:order_id>/update/", "POST"): lambda w: {
        "version": str(w.world["order"].version), "item_name": "Mug", "item_quantity": "3", "item_price": "6.50"},
    (O + "inbox/c/<uuid:conversation_id>/orders/<uuid:order_id>/transition/", "POST"): lambda w: {
        "to": "confirmed", "version": str(w.world["order"].version)},
    (O + "canned-replies/", "POST"): lambda w: {"shortcut": "bye", "title": "Bye", "body": "Goodbye!"},
    (O + "clients/", "POST"): lambda w: {"name": f"Client {uuid.uuid4().hex[:8]}"},
    (O + "clients/<uuid:client_id>/", "POST"): lambda w: {"name": "Acme client", "notes": "Renamed"},
    (A + "clients", "POST"): lambda w: {"name": f"Client {uuid.uuid4().hex[:8]}"},
    (A + "clients/<uuid:client_id>", "PATCH"): lambda w: {"notes": "Seen"},
    (O + "whatsapp/senders/connect/", "POST"): lambda w: {
        "name": "Spare WhatsApp", "phone_number_id": SPARE_WA_ID, "business_account_id": MATRIX_WABA,
        "access_token": WA_TOKEN, "app_secret": "spare-app-secret"},
    (O + "whatsapp/senders/<uuid:whatsapp_sender_id>/", "POST"): lambda w: {
        "name": "Main WhatsApp", "business_account_id": MATRIX_WABA, "access_token": "", "app_secret": ""},
    (O + "whatsapp/senders/<uuid:whatsapp_sender_id>/switch/", "POST"): lambda w: {"active": "0"},
    (A + "whatsapp-senders", "POST"): lambda w: {
        "name": "Spare WhatsApp", "phoneNumberId": SPARE_WA_ID, "businessAccountId": MATRIX_WABA,
        "accessToken": WA_TOKEN, "appSecret": "spare-app-secret"},
    (A + "whatsapp-senders/<uuid:whatsapp_sender_id>", "PATCH"): lambda w: {"name": "Main WhatsApp"},
    (A + "agents", "POST"): lambda w: {"name": "Night bot", "kind": "ai", "assistantId": "5f0c6a52-7d7c-4b8e-9d3a-2f1e8c9b0a11"},
    (A + "agents/<uuid:agent_id>", "PATCH"): lambda w: {"name": "Renamed"},
    (A + "provider-accounts", "POST"): lambda w: {"provider": "twilio", "accountSid": SPARE_SID,
                                                  "authToken": SPARE_TOKEN},
    (A + "provider-accounts/<uuid:provider_account_id>", "PATCH"): lambda w: {"friendlyName": "Main line"},
    (A + "provider-accounts/<uuid:provider_account_id>/voice", "POST"): lambda w: {"enabled": True},
    (A + "phone-numbers", "POST"): lambda w: {"provider": "twilio", "phoneNumber": w.spare_number,
                                              "accountSid": w.account.account_sid, "authToken": ACME_TOKEN},
    (A + "phone-numbers/<str:provider>/available", "POST"): lambda w: {"providerAccountId": str(w.account.pk)},
    (A + "phone-numbers/buy", "POST"): lambda w: {"providerAccountId": str(w.account.pk),
                                                  "phoneNumber": w.fresh_number()},
    (A + "phone-numbers/import", "POST"): lambda w: {"providerAccountId": str(w.account.pk), "numbers": "all"},
    (A + "phone-numbers/<uuid:phone_number_id>", "PATCH"): lambda w: {"friendlyName": "Front desk"},
    (A + "conversations/<uuid:conversation_id>", "PATCH"): lambda w: {"status": "done"},
    (A + "contacts/<uuid:contact_id>/orders", "POST"): lambda w: {
        "items": [{"name": "Coffee beans", "quantity": 2, "unitPrice": "12.50"}]},
    (A + "orders/<uuid:order_id>", "PATCH"): lambda w: {"version": w.world["order"].version, "notes": "Gift wrap"},
    (A + "orders/<uuid:order_id>/transitions", "POST"): lambda w: {"to": "confirmed"},
    (A + "conversations/<uuid:conversation_id>/messages", "POST"): lambda w: {"body": "Hello from the API"},
    (A + "search", "GET"): lambda w: {"q": "where is my order", "mode": "both"},
    (A + "messages", "POST"): lambda w: {"to": "+14155550166", "fromNumberId": str(w.number.pk),
                                         "body": "Hello"},
}

ACME_TOKEN = "acme-matrix-token"
SPARE_SID = "AC" + "c" * 32
SPARE_TOKEN = "spare-matrix-token"
EMPTY_SID = "AC" + "d" * 32
EMPTY_TOKEN = "empty-matrix-token"
WA_TOKEN = "wa-matrix-token"
MATRIX_WABA = "102290129340398"
SPARE_WA_ID = "106540352240001"


# The world -----------------------------------------------------------------------------------------


@dataclass
class World:
    org: object
    world: dict
    account: object
    number: object
    sender: object
    spare_number: str
    ids: dict
    tokens: dict
    users: dict
    admin_objects: dict = field(default_factory=dict)
    clients: dict = field(default_factory=dict)
    _next: int = 100

    def fresh_number(self) -> str:
        self._next += 1
        return f"+1415555{self._next:04d}"

    def args_for(self, route: str) -> dict:
        args = dict(self.ids)
        if route in (O + "numbers/accounts/<uuid:provider_account_id>/delete/",
                     A + "provider-accounts/<uuid:provider_account_id>"):
            args["provider_account_id"] = self.ids["empty_provider_account_id"]  # deleting one with numbers is refused
        if route in (O + "whatsapp/senders/<uuid:whatsapp_sender_id>/delete/",
                     A + "whatsapp-senders/<uuid:whatsapp_sender_id>"):
            args["whatsapp_sender_id"] = self.ids["unused_whatsapp_sender_id"]  # one with conversations is kept
        if route.startswith("invite/"):
            args["token"] = self.tokens["invitation"]
        elif route.startswith("attachments/"):
            args["token"] = self.tokens["attachment"]
        elif route.startswith("live/"):
            args["token"] = self.tokens["live"]
        elif route.startswith("webhooks/twilio/voice/greeting/"):
            args["token"] = self.tokens["greeting"]
        elif route.startswith("accounts/reset/<uidb64>"):
            alice = self.users["owner"]
            args.update(uidb64=urlsafe_base64_encode(force_bytes(alice.pk)),
                        token=default_token_generator.make_token(alice))
        elif route.startswith("admin/"):
            args.update(self.admin_ids(route))
        return args

    def admin_ids(self, route: str) -> dict:
        match = re.match(r"admin/(\w+)/(\w+)/", route)
        if route.startswith("admin/r/"):
            contact = self.world["contact"]
            return {"content_type_id": ContentType.objects.get_for_model(contact).pk, "object_id": contact.pk}
        if match is None or not re.search(r"<(path:object_id|id)>", route):
            return {}
        app, model = match.groups()
        if f"{app}.{model}" not in self.admin_objects:
            raise KeyError(f"no {app}.{model} for its admin pages: add one to _admin_objects() in {__file__}")
        pk = self.admin_objects[f"{app}.{model}"].pk
        return {"app": app, "model": model, "object_id": pk, "id": pk}


def path_for(route: str, args: dict) -> str:
    if route.startswith("admin/^("):
        return "/admin/tenants/"
    if route == "admin/(?P<url>.*)":
        return "/admin/no-such-page/"

    def fill(match):
        name = match.group("name")
        if name not in args:
            raise KeyError(f"no real object for <{name}> in {route}: add it to the world in {__file__}")
        return str(args[name])

    return "/" + _PARAMETER.sub(fill, route)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    twilio, graph = FakeTwilio(), FakeWhatsApp(access_token=WA_TOKEN)
    # The vendors are the HTTP fakes (VAPI: a port nobody listens on), so no request leaves the machine.
    urls = {"TWILIO_API_BASE_URL": twilio.start(), "WHATSAPP_GRAPH_BASE_URL": graph.start(),
            "VAPI_API_BASE_URL": "http://127.0.0.1:9/", "MEDIA_ROOT": str(tmp_path_factory.mktemp("media"))}
    try:
        with override_settings(**urls), django_db_blocker.unblock(), transaction.atomic():
            built = _build(twilio, graph)
            yield built
            transaction.set_rollback(True)
    finally:
        twilio.stop()
        graph.stop()


def _build(twilio: FakeTwilio, graph: FakeWhatsApp) -> World:
    alice = factories.make_user("alice", first_name="Alice", last_name="Owner")
    org = factories.make_organization("Acme", owner=alice, slug="acme")
    bob = factories.make_user("bob", first_name="Bob", last_name="Admin")
    factories.add_member(org, bob, Role.ADMIN)
    dana = factories.make_user("dana", first_name="Dana", last_name="Agent")
    factories.add_member(org, dana, Role.AGENT)
    dana_agent = factories.make_agent(org, user=dana, name="Dana Agent")
    charlie = factories.make_user("charlie", first_name="Charlie", last_name="Outsider")
    factories.make_organization("Globex", owner=charlie, slug="globex")
    root = factories.make_user("root", is_staff=True, is_superuser=True)
    world = factories.build_world(org, alice)

    with tenant_scope(org):
        account = world["provideraccount"]
        account.auth_token = ACME_TOKEN
        account.save()
        twilio.add_account(account.account_sid, ACME_TOKEN, friendly_name="Acme Twilio")
        twilio.add_account(SPARE_SID, SPARE_TOKEN, friendly_name="Spare Twilio")
        number = world["phonenumber"]
        remote = twilio.add_incoming_number(account.account_sid, number.phone_number)
        PhoneNumber.objects.filter(pk=number.pk).update(provider_sid=remote["sid"])
        number.refresh_from_db()
        empty_account = ProviderAccount.objects.create(
            organization=org, provider=Provider.TWILIO, friendly_name="Unused Twilio", account_sid=EMPTY_SID,
            auth_token=EMPTY_TOKEN)
        twilio.add_account(EMPTY_SID, EMPTY_TOKEN, friendly_name="Unused Twilio")
        spare_number = factories.next_test_number()
        twilio.add_incoming_number(account.account_sid, spare_number)

        sender = world["whatsappsender"]
        sender.access_token, sender.business_account_id = WA_TOKEN, MATRIX_WABA
        sender.save()
        graph.add_phone_number(sender.phone_number_id, sender.display_phone_number, business_account_id=MATRIX_WABA)
        graph.add_phone_number(SPARE_WA_ID, "+1 555-010-0001", business_account_id=MATRIX_WABA)
        unused_sender = WhatsAppSender.objects.create(
            organization=org, name="Unused WhatsApp", display_phone_number=factories.next_test_number(),
            phone_number_id="106540352240002", access_token=WA_TOKEN, app_secret="s", verify_token="verify-unused")
        graph.add_media("media-matrix", b"\x89PNG not really", "image/png")
        wa_contact = Contact.objects.create(organization=org, phone_number=factories.next_test_number(), name="Ana")
        wa_conversation = Conversation.objects.create(organization=org, contact=wa_contact, channel="whatsapp",
                                                      whatsapp_sender=sender)
        photo = Message.objects.create(
            organization=org, conversation=wa_conversation, direction="inbound", channel="whatsapp",
            body="my order", status="received", provider_sid="wamid.matrix",
            media=[{"media_id": "media-matrix", "content_type": "image/png", "type": "image"}])

        _, invitation_token = tenant_services.invitation_create(organization=org, actor=alice,
                                                                email="erin@example.com")
        upload = SimpleUploadedFile("photo.png", b"\x89PNG not really", content_type="image/png")
        attachment_url = inbox_services.attachment_store(organization=org, upload=upload)
        live_token = live.live_token(org, dana_agent, user=dana)
        number.voicemail_greeting_audio.save("greeting.mp3", ContentFile(b"ID3 a greeting"), save=True)
        greeting_token = routing.greeting_audio_url(number.pk, number.voicemail_greeting_audio.name).rstrip("/").rsplit("/", 1)[1]
        call = world["call"]  # its voicemail, at the fake Twilio
        twilio.add_recording(account.account_sid, b"ID3 a voicemail", sid=call.recording_url.rsplit("/", 1)[1])

    Group.objects.create(name="Support")
    Token.objects.create(user=alice)

    ids = {
        "org_slug": "acme", "invitation_id": world["invitation"].pk, "membership_id": world["membership"].pk,
        "agent_id": world["agent"].pk, "provider_account_id": account.pk, "phone_number_id": number.pk,
        "job_id": world["job"].pk, "message_id": photo.pk, "index": 0,
        "conversation_id": world["conversation"].pk, "contact_id": world["contact"].pk,
        "canned_reply_id": world["cannedreply"].pk, "provider": "twilio",
        "empty_provider_account_id": empty_account.pk, "call_id": world["call"].pk, "order_id": world["order"].pk,
        "number": world["order"].number, "duplicate_id": wa_contact.pk, "contact_import_id": world["contactimport"].pk,
        "whatsapp_sender_id": sender.pk, "client_id": world["client"].pk, "unused_whatsapp_sender_id": unused_sender.pk,
        "path": f"2010-04-01/Accounts/{account.account_sid}.json", "sid": "CA" + "0" * 32, "action": "accept",
    }
    built = World(org=org, world=world, account=account, number=number, sender=sender,
                  spare_number=spare_number, ids=ids,
                  tokens={"invitation": invitation_token, "attachment": attachment_url.rstrip("/").rsplit("/", 1)[1],
                          "live": live_token, "greeting": greeting_token},
                  users={"agent": dana, "admin": bob, "owner": alice, "staff": root, "outsider": charlie})
    built.admin_objects = _admin_objects(org, world, alice)
    built.clients["anonymous"] = Client()  # one client per role: each new one loads the middleware again
    for role, user in built.users.items():
        client = Client()
        client.force_login(user)
        built.clients[role] = client
    return built


def _admin_objects(org, world, alice) -> dict:
    objects = {f"{obj._meta.app_label}.{obj._meta.model_name}": obj for obj in world.values()}
    objects["tenants.user"] = alice
    objects["tenants.organization"] = org
    objects["auth.group"] = Group.objects.get(name="Support")
    objects["authtoken.tokenproxy"] = alice  # the token admin keys tokens by their user
    # django-axes' records of sign-in attempts (read-only in the admin).
    seen = {"username": "alice", "ip_address": "192.0.2.1", "user_agent": "matrix", "path_info": "/accounts/login/"}
    objects["axes.accessattempt"] = AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1)
    objects["axes.accesslog"] = AccessLog.objects.create(**seen)
    objects["axes.accessfailurelog"] = AccessFailureLog.objects.create(**seen, locked_out=False)
    return objects


# Asking --------------------------------------------------------------------------------------------


def ask(world: World, role: str, route: str, method: str):
    """One request as ``role``, in a savepoint that is rolled back; the session survives (a logout too).
    Each request is a probe of its own: no rate limit carries over from the one before."""
    factories.clear_rate_limits()
    client = world.clients[role]
    saved = SimpleCookie() if role == "anonymous" else SimpleCookie(client.cookies.output(header="", sep="\n"))
    client.cookies = SimpleCookie(saved.output(header="", sep="\n"))
    path = path_for(route, world.args_for(route))
    payload = PAYLOADS.get((route, method), lambda w: {})(world)
    kwargs = {}
    if method == "GET":
        kwargs["data"] = payload
    elif route.startswith(A) or route in ("webhooks/whatsapp/", "webhooks/vapi/"):
        kwargs.update(data=json.dumps(payload), content_type="application/json")
    elif method == "POST":
        kwargs["data"] = payload
    else:
        kwargs.update(data="", content_type="application/json")
    with transaction.atomic():
        before = _rows_written()
        response = getattr(client, method.lower())(path, **kwargs)
        response.rows_written = {table: n - before.get(table, 0) for table, n in _rows_written().items()
                                 if n != before.get(table, 0) and table != "django_session"}
        transaction.set_rollback(True)
    client.cookies = saved
    full_path = path + ("?" + response.request["QUERY_STRING"] if response.request.get("QUERY_STRING") else "")
    return full_path, response


def _rows_written() -> dict[str, int]:
    """Rows inserted, updated or deleted so far in this transaction, per table (PostgreSQL's own count)."""
    with connection.cursor() as cursor:
        cursor.execute("select relname, n_tup_ins + n_tup_upd + n_tup_del from pg_stat_xact_user_tables")
        return dict(cursor.fetchall())


def refused(expected) -> bool:
    return expected in (LOGIN, ADMIN_LOGIN) or (isinstance(expected, int) and expected >= 400)


def _login_target(location: str) -> tuple[str, str]:
    parts = urlsplit(location)
    return parts.path, parse_qs(parts.query).get("next", [""])[0]


def matches(expected, full_path: str, response, ids: dict) -> bool:
    status = response.status_code
    if expected is None:
        return True
    if isinstance(expected, int):
        return status == expected
    if status != 302:
        return False
    location = response["Location"]
    if expected in (LOGIN, ADMIN_LOGIN):
        page = "/accounts/login/" if expected == LOGIN else "/admin/login/"
        return _login_target(location) == (page, full_path)
    target = expected.format(**ids)
    if target.endswith("*"):
        return location.startswith(target[:-1])
    return location == target


def describe(response) -> str:
    if response.status_code in (301, 302, 303):
        return f"{response.status_code} -> {response['Location']}"
    return str(response.status_code)


# The tests -----------------------------------------------------------------------------------------


def _routes_in_table() -> dict[str, list[Row]]:
    table: dict[str, list[Row]] = {}
    for entry in full_matrix():
        table.setdefault(entry.route, []).append(entry)
    return table


def _line_to_add(route: str) -> str:
    """A row to start from for a new route: the usual answers of its kind, to be checked and corrected."""
    if route.startswith(O):
        return f'row(O + {route.removeprefix(O)!r}, "GET", LOGIN, 200, 200, 200, 200, 404),'
    if route.startswith(A):
        return f'row(A + {route.removeprefix(A)!r}, "GET", 401, 200, 200, 200, 200, 404),'
    if route.startswith("admin/"):
        return f'row({route!r}, "GET", *[ADMIN_LOGIN] * 4, 200, ADMIN_LOGIN),'
    return f'row({route!r}, "GET", 200, 200, 200, 200, 200, 200),'


def coverage_problems(routes: list[str], table: dict[str, list[Row]]) -> list[str]:
    missing = [r for r in routes if r not in table]
    stale = sorted(set(table) - set(routes))
    problems = []
    if missing:
        problems.append(
            "Routes without a row in the role matrix. Add to MATRIX in tests/security/test_role_matrix.py one "
            "line per method the route accepts (GET, POST, ...), with what each of anonymous, agent, admin, owner, "
            "staff and outsider must get, and the payload of a write in PAYLOADS. To start from:\n"
            + "\n".join(f"    {_line_to_add(r)}" for r in missing))
    if stale:
        problems.append("Rows of routes that no longer exist (remove them from MATRIX):\n"
                        + "\n".join(f"    {r!r}" for r in stale))
    return problems


def test_every_route_has_a_row():
    problems = coverage_problems([r.route for r in all_routes()], _routes_in_table())
    assert not problems, "\n\n".join(problems)


def test_a_route_without_a_row_is_named_with_the_line_to_add():
    routes = [r.route for r in all_routes()]
    table = _routes_in_table()
    new_page, new_api = O + "reports/<uuid:report_id>/", A + "reports"
    del table["healthz"]
    problems = coverage_problems([*routes, new_page, new_api], table)
    assert len(problems) == 1
    assert """row(O + 'reports/<uuid:report_id>/', "GET", LOGIN, 200, 200, 200, 200, 404),""" in problems[0]
    assert """row(A + 'reports', "GET", 401, 200, 200, 200, 200, 404),""" in problems[0]
    assert """row('healthz', "GET", 200, 200, 200, 200, 200, 200),""" in problems[0]
    routes.remove("api/docs/")
    assert "no longer exist" in coverage_problems(routes, _routes_in_table())[0]


def test_the_table_has_one_row_per_route_and_method():
    seen = {}
    for entry in full_matrix():
        assert (entry.route, entry.method) not in seen, f"two rows for {entry.method} {entry.route}"
        seen[(entry.route, entry.method)] = entry
    assert set(PAYLOADS) <= set(seen), f"payloads without a row: {set(PAYLOADS) - set(seen)}"


TABLE = _routes_in_table()


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(TABLE), ids=lambda r: r or "/")
def test_role_matrix(world, route):
    wrong = []
    for entry in TABLE[route]:
        for role, expected in zip(ROLES, entry.expect, strict=True):
            full_path, response = ask(world, role, route, entry.method)
            if not matches(expected, full_path, response, {**world.args_for(route)}):
                wrong.append(f"{entry.method} {full_path} as {role}: expected {expected}, got {describe(response)}")
            elif refused(expected) and response.rows_written:
                wrong.append(f"{entry.method} {full_path} as {role}: refused, yet wrote {response.rows_written}")
    assert not wrong, "\n".join(wrong)


PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(r for r in TABLE if not r.startswith("admin/")), ids=lambda r: r or "/")
def test_methods_without_a_row_are_refused(world, route):
    """Each method a route answers is in the table: any other gets 405 (asked by the owner on the pages
    behind a login, where the owner may do most, the simulator's customer phone included; by someone
    not logged in on the public ones)."""
    listed = {entry.method for entry in TABLE[route]}
    role = "owner" if route.startswith((O, A, "simulator/phone/")) or route == "" else "anonymous"
    wrong = []
    for method in PROBED:
        if method in listed:
            continue
        full_path, response = ask(world, role, route, method)
        if response.status_code != 405:
            wrong.append(f"{method} {full_path} answered {describe(response)} to the {role}: refuse it with 405, "
                         f"or add a row for it to MATRIX")
    assert not wrong, "\n".join(wrong)
