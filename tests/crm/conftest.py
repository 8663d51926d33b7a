"""What the crm tests share with the messaging tests: the support line customers write to."""

from tests.messaging.conftest import our_number, twilio_posts  # noqa: F401 (fixtures)
