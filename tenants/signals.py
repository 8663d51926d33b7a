"""What tenants tells the apps above it, which it does not know (core <- tenants <- crm <- telephony …).

- `agent_changed` (keyword arguments `agent`, `changed`: the names of the fields that changed) is
  sent inside the writer's transaction once an agent is saved: telephony brings the agent's numbers
  in line (every number of an AI agent answered on VAPI by its new assistant).
- `agent_deleting` (`agent`, `actor`) is sent inside the transaction just before an agent is
  deleted: telephony unassigns its numbers, which takes them off VAPI and gives them our voice
  routing back.
- `assistants_requested` (`organization`, `fresh`) asks which AI assistants the organization can
  give an AI agent: a receiver answers an `AssistantCatalog` when a voice-AI platform is connected,
  None otherwise. `fresh` asks past any copy kept for a moment. See selectors.assistant_catalog.

- `home_panels_requested` (`organization`) asks for the panels of the organization's home page: each
  receiver answers a list of `HomePanel` (a template and its context, read through the asking member's
  access), shown in their `order`.

Receivers are connected in the AppConfig.ready of the app above.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.dispatch import Signal

agent_changed = Signal()
agent_deleting = Signal()
assistants_requested = Signal()
home_panels_requested = Signal()


@dataclass(frozen=True)
class HomePanel:
    """One panel of an organization's home page, drawn by the app that knows its figures."""

    order: int
    template: str
    context: dict


@dataclass(frozen=True)
class AssistantCatalog:
    """The assistants of the organization's voice-AI platform account, as the platform lists them."""

    platform: str  # how people call the platform ("VAPI")
    assistants: tuple[tuple[str, str], ...] = ()  # (id, name)
    error: str = ""  # a sentence: the platform could not be asked (then `assistants` is empty)

    def has(self, assistant_id: str) -> bool:
        return any(known == assistant_id for known, _ in self.assistants)
