"""What every vendor adapter raises, in words a person can read.

Adapters (telephony.providers, telephony.platforms, messaging.providers) turn each vendor's errors
into a `ProviderError`; domain code reads only its fields, never a vendor's status code or payload.
"""

from __future__ import annotations


class ProviderError(Exception):
    """A vendor said no, or could not be reached.

    - ``message`` is safe to show a person: adapters never put credentials in it.
    - ``permanent`` tells callers whether trying again can help (a bad credential or an invalid
      number cannot; a timeout, a 5xx or a 429 can).
    - ``gone`` means the thing asked about no longer exists at the vendor (a released number, an
      expired media item): callers treat it as removed, not as a failure.
    - ``code`` is the vendor's own error code, for the record and for support.
    """

    def __init__(self, message: str, *, permanent: bool, code: int | str | None = None, gone: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent or gone
        self.code = code
        self.gone = gone

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})" if self.code else self.message
