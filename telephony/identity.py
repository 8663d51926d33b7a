"""The identity a person's browser softphone registers with Twilio under.

Twilio routes `<Dial><Client>identity</Client></Dial>` and the access token's grant by it, across
all of our tenants that share a Twilio account, so it must be unique everywhere and say nothing
about the person (it appears in Twilio's logs and in `From=client:<identity>`): the agent's UUID,
which is unique across tenants and personal to no one. Letters, digits and underscore only, at most
121 characters (Twilio's rule).
"""

from __future__ import annotations

import re
import uuid

PREFIX = "agent_"
_IDENTITY = re.compile(r"^agent_([0-9a-f]{32})$")


def client_identity(agent) -> str:
    return identity_of(agent.pk)


def identity_of(agent_id) -> str:
    return PREFIX + uuid.UUID(str(agent_id)).hex


def agent_id_from_identity(identity: str) -> uuid.UUID | None:
    """The agent id an identity (or a `client:<identity>` address) names, or None."""
    match = _IDENTITY.match((identity or "").removeprefix("client:"))
    return uuid.UUID(match.group(1)) if match else None
