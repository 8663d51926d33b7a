"""The simulated carrier's calls in progress (softphone.simulator.voice), kept as one vendor's state."""

from __future__ import annotations


class VoiceNetwork:
    """Every call leg the simulated carrier carries, by sid: a parent leg (a customer's call to one of
    our numbers, a browser's call) and the legs its `<Dial>` rings (a browser identity, a customer's
    phone). Plus the API keys
    that sign the devices' access tokens."""

    def __init__(self) -> None:
        self.legs: dict[str, dict] = {}
        self.keys: dict[str, tuple[str, str]] = {}      # API key sid -> (secret, account sid)
