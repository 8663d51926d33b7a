"""Every write of `telephony`, by topic. Imports point down this list only:

- `webhook_contract`: the URLs our numbers call, and drift from them;
- `records`: a number's row from what its provider says;
- `accounts`: provider accounts (connect, update, verify, delete);
- `platform`: numbers on the voice-AI platform follow their agent;
- `editing`: rename, released at the provider, remove (leaves the platform first);
- `configuring`: point a number's webhooks at us, repair them;
- `adding`, `buying`, `importing`: one number, a bought number, a whole account's (a job);
- `assignment`: who answers a number;
- `sync`: reconcile with the vendors.

Services enqueue background work through `telephony.jobs`, never by importing tasks."""
