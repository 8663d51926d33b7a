"""HTTP-level fakes of the vendors' APIs (Twilio, VAPI), and checks of payloads against the vendors' specs."""
