"""The simulated vendors' state, shared by every web and worker process through the database.

A vendor's fake (softphone.simulator.twilio, ...) is loaded for one request with its row locked, does
what the vendor would do, and is saved back; requests to one simulated vendor run one at a time, which
is plenty for a demo or an end-to-end test and keeps the fakes' own logic as the tests know it."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction

from .models import SimulatorState
from .network import VoiceNetwork
from .twilio import FakeTwilio
from .vapi import FakeVapi
from .whatsapp import FakeWhatsApp

# The one VAPI private key and the one WhatsApp access token the simulated vendors answer (a demo has
# one VAPI organization and one WhatsApp Business app).
VAPI_KEY = "demo-vapi-key"
WHATSAPP_TOKEN = "demo-whatsapp-token"

# What a request log may keep between requests (the fakes record every request they get).
REQUESTS_KEPT = 200

VENDORS: dict[str, Callable[[], object]] = {
    "twilio": FakeTwilio,
    "vapi": lambda: FakeVapi(api_key=VAPI_KEY),  # without Twilio's state: VAPI keeps its own numbers
    "whatsapp": lambda: FakeWhatsApp(access_token=WHATSAPP_TOKEN),
    "voice": VoiceNetwork,  # the calls the simulated carrier carries (softphone.simulator.voice)
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
