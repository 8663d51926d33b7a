"""Fixtures of the simulator's tests (softphone.simulator)."""

from __future__ import annotations

import gc
import threading
import time

import pytest


@pytest.fixture
def simulator_on(settings, live_server):
    """The simulator on, the product's Twilio adapter pointed at it over HTTP, callbacks to the live server."""
    settings.SIMULATOR_ENABLED = True
    settings.TWILIO_API_BASE_URL = f"{live_server.url}/simulator/twilio"
    settings.PUBLIC_BASE_URL = live_server.url
    yield live_server
    # The SDK's HTTP sessions keep their connections to the live server open until they are
    # collected, and each holds a server thread (and its database session) waiting for more.
    gc.collect()
    deadline = time.monotonic() + 10
    while any(t.name.endswith("(process_request_thread)") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
