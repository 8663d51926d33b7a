"""The bottom of the project: ids, phone numbers, validators, safe HTTP, Redis stamps, REST and admin
helpers. Every app may import it; it imports no app of ours (tests/test_architecture.py)."""
