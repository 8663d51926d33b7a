"""The assistants an organization can give its AI agents: its voice-AI platform account's list.

Asked by the agent form and the agent services in `tenants` (through tenants.signals.
assistants_requested: tenants cannot call us). The list is kept a minute, so the team page does not
ask VAPI each time it is shown; a check of an id that is not in the kept list asks again.
"""

from __future__ import annotations

from django.core.cache import cache

from core.vendors import ProviderError
from telephony import platforms
from tenants.models import Organization
from tenants.signals import AssistantCatalog

from .platform import platform_account

KEPT_SECONDS = 60


def assistant_catalog(*, organization: Organization, fresh: bool = False) -> AssistantCatalog | None:
    """The assistants of the organization's platform account; None when none is connected. When the
    platform cannot be asked, a catalog with the reason (and no assistants)."""
    account = platform_account(organization)
    if account is None or not account.api_key:
        return None
    label = platforms.adapter_class(account.provider).label
    key = f"telephony:assistants:{account.pk}"
    listed = None if fresh else cache.get(key)
    if listed is None:
        try:
            listed = [(assistant.id, assistant.name) for assistant in platforms.for_account(account).list_assistants()]
        except ProviderError as exc:
            return AssistantCatalog(platform=label, error=exc.message)
        cache.set(key, listed, KEPT_SECONDS)
    return AssistantCatalog(platform=label, assistants=tuple((id_, name) for id_, name in listed))
