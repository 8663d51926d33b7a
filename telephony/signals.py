"""What telephony tells the apps above it (it cannot call them).

`call_changed` is sent after commit whenever a Call is created or its status, recording, voicemail
or AI report changes: messaging shows calls in the contact's conversation on that number (the same
timeline as its messages) and moves the conversation up the inbox for a missed call or a voicemail.
Receivers are connected in their AppConfig.ready.

`calls_waiting` is sent by the inbound voice webhook instead of `call_changed` (where the caller
hears silence, one round trip is all it has): new calls of the organization are waiting to be shown
(Call.conversation_pending), and no worker has been asked for them yet (CallDrain).
"""

from django.dispatch import Signal

# sender=Call; kwargs: call (the Call, reloaded after commit), created (bool)
call_changed = Signal()

# sender=Call; kwargs: organization_id
calls_waiting = Signal()
