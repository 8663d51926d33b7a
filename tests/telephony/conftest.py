"""What the voice tests share: the number customers call, answered by the agent's browser."""

from __future__ import annotations

import pytest

from telephony.models import PhoneNumber, Provider
from tenants.scoping import tenant_scope

OUR_NUMBER = "+14155550142"


@pytest.fixture
def our_number(org, twilio, twilio_account, agent):
    """Acme's support line, assigned to Dana (the `agent`)."""
    with tenant_scope(org):
        return PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number=OUR_NUMBER,
            provider_sid="PN" + "1" * 32, agent=agent, friendly_name="Support line",
            capabilities={"voice": True, "sms": True, "mms": True, "fax": False})
