"""The simulated vendors' state, shared by every web and worker process through the database.

A vendor's fake (softphone.simulator.twilio, ...) is loaded for one request with its row locked, does
what the vendor would do, and is saved back; requests to one simulated vendor run one at a time, which
is plenty for a demo or an end-to-end test and keeps the fakes' own logic as the tests know it."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction

from .bandwidth import FakeBandwidth
from .models import SimulatorState
from .network import VoiceNetwork
from .twilio import FakeTwilio
from .vapi import FakeVapi
from .vonage import FakeVonage
from .whatsapp import FakeWhatsApp

# The one VAPI private key and the one WhatsApp access token the simulated vendors answer (a demo has
# one VAPI organization and one WhatsApp Business app).
VAPI_KEY = "demo-vapi-key"
WHATSAPP_TOKEN = "demo-whatsapp-token"

# What a request log may keep between requests (the fakes record every request they get).
REQUESTS_KEPT = 200

# The demo's Vonage and Bandwidth accounts (README: "Other carriers"), each with four numbers to import.
VONAGE_KEY = "demo1234"
VONAGE_SECRET = "demo-vonage-secret"
VONAGE_SIGNATURE_SECRET = "demo-vonage-signature-secret"
VONAGE_NUMBERS = ("+14155550190", "+14155550191", "+14155550192", "+14155550193")
BANDWIDTH_ACCOUNT = "5550001"
BANDWIDTH_CLIENT_ID = "demo-bandwidth-client"
BANDWIDTH_CLIENT_SECRET = "demo-bandwidth-secret"
BANDWIDTH_APPLICATION = "d3e0a991-0000-4000-8000-00000000b0d1"
BANDWIDTH_NUMBERS = ("+19195550190", "+19195550191", "+19195550192", "+19195550193")


def _vonage() -> FakeVonage:
    fake = FakeVonage()
    fake.add_account(VONAGE_KEY, VONAGE_SECRET, VONAGE_SIGNATURE_SECRET)
    for number in VONAGE_NUMBERS:
        fake.add_number(VONAGE_KEY, number, features=["SMS", "VOICE"])
    fake.offer(VONAGE_KEY, "+14155550194")
    fake.offer(VONAGE_KEY, "+14155550195")
    return fake


def _bandwidth() -> FakeBandwidth:
    fake = FakeBandwidth()
    fake.add_account(BANDWIDTH_ACCOUNT, BANDWIDTH_CLIENT_ID, BANDWIDTH_CLIENT_SECRET,
                     application_id=BANDWIDTH_APPLICATION, callback_url="")
    fake.add_numbers(BANDWIDTH_ACCOUNT, *BANDWIDTH_NUMBERS)
    fake.offer(BANDWIDTH_ACCOUNT, "+19195550194", "+19195550195")
    return fake


VENDORS: dict[str, Callable[[], object]] = {
    "twilio": FakeTwilio,
    "vapi": lambda: FakeVapi(api_key=VAPI_KEY),  # without Twilio's state: VAPI keeps its own numbers
    "whatsapp": lambda: FakeWhatsApp(access_token=WHATSAPP_TOKEN),
    "voice": VoiceNetwork,  # the calls the simulated carrier carries (softphone.simulator.voice)
    "vonage": _vonage,
    "bandwidth": _bandwidth,
}


@contextmanager
def simulated(vendor: str) -> Iterator:
    """The vendor's fake, with its state locked until exit and saved then (not on an exception)."""
    factory = VENDORS[vendor]
    with transaction.atomic():
        row = SimulatorState.objects.select_for_update().filter(vendor=vendor).first()
        if row is None:
            try:
                with transaction.atomic():
                    SimulatorState.objects.create(vendor=vendor)
            except IntegrityError:
                pass  # created meanwhile by another process
            row = SimulatorState.objects.select_for_update().get(vendor=vendor)
        fake = pickle.loads(bytes(row.state)) if row.state else factory()  # noqa: S301 - our own rows
        yield fake
        if hasattr(fake, "requests"):
            del fake.requests[:-REQUESTS_KEPT]
        row.state = pickle.dumps(fake)
        row.save(update_fields=["state", "updated_at"])
