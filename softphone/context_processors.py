"""What every page's template may need from the project's settings."""

from django.conf import settings


def simulator(request) -> dict:
    """`simulated_voice`: the browser softphone talks to the simulated carrier (the simulator is on and
    the product's Twilio is the simulated one), so the page loads the simulated device instead of the
    Twilio Voice SDK (static/js/simulated_voice.js)."""
    return {"simulated_voice": settings.SIMULATOR_ENABLED
            and settings.TWILIO_API_BASE_URL.rstrip("/").endswith("/simulator/twilio")}
