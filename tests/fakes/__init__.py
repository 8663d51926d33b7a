"""HTTP-level fakes of the vendors' APIs (Twilio, VAPI) and helpers to check them against the vendors' specs."""
