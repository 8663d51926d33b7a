"""Every place that crosses tenants (or a member's limit inside one, tenants.access) on purpose. A new one makes this test fail: add it here only
after review, with the reason."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["softphone", "tenants", "crm", "telephony", "messaging"]
PATTERN = re.compile(r"platform_scope\(\)|scopes_disabled\(\)|database_scope\([^)]*bypass=True|with_scopes_disabled\(\)"
                     r"|everything_in\(|execute_bypassing\(")

ALLOWED = {
    # file: number of uses, and why
    "tenants/scoping.py": 3,  # platform_scope itself: ORM and database, and its docstring
    "tenants/middleware.py": 1,  # the Django admin, staff only
    "tenants/rls.py": 1,  # execute_bypassing itself: one read past RLS in one round trip, for the uses below
    "tenants/selectors.py": 1,  # the organization switcher: a person's own memberships (execute_bypassing)
    "tenants/services.py": 1,  # an invitation link: its token is the only key
    "telephony/tasks.py": 1,  # beat fans platform maintenance out into one tenant task per account
    "messaging/tasks.py": 1,  # beat fans the daily template sync out into one tenant task per business account
    "messaging/webhooks.py": 2,  # WhatsApp webhooks find their tenant from the sender (and its verify token)
    "telephony/lines.py": 1,  # message and voice webhooks find their tenant from the called number (read-only)
    "telephony/webhooks_voice.py": 2,  # voice webhooks find their tenant (identity, call) and a signed greeting link its number (read-only)
    "telephony/webhooks_vapi.py": 1,  # VAPI's reports find their tenant from the VAPI number id (read-only)
    "softphone/secrets.py": 1,  # key rotation re-encrypts and checks every organization's secrets
    "messaging/services/meaning.py": 1,  # beat's sweep: which organizations have messages waiting to be embedded
    "messaging/selectors.py": 1,  # /healthz counts failed inbound events on the platform (a number, read-only)
    # Past a member's limit inside their own organization (tenants.access), never across tenants:
    "tenants/access.py": 3,  # everything_in itself: its docstring mention, definition and error message
    "crm/services.py": 1,  # the one contact of an address a member writes to or calls
    "messaging/services/conversations.py": 2,  # the one conversation of a contact on a line (find or create)
}


def test_the_bypass_is_used_only_where_listed():
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            uses = len(PATTERN.findall(path.read_text()))
            if uses:
                found[str(path.relative_to(ROOT))] = uses
    assert found == ALLOWED
