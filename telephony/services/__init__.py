"""Every write of `telephony`, by topic: provider accounts, numbers (import, buy, remove), assignment
and the VAPI platform, and reconciliation with the providers."""
