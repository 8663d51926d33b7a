from . import presence
from .models import AgentKind
from .selectors import organizations_for_user, request_agent


def tenant(request):
    organization = getattr(request, "organization", None)
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    return {
        "organization": organization,
        "membership": membership,
        "can_manage": bool(membership and membership.can_manage),
        "user_organizations": (lambda: organizations_for_user(user)) if user and user.is_authenticated else (),
        # Read only by the pages that show the top bar's voice corner and the softphone.
        "my_presence": (lambda: _my_presence(request)) if organization is not None and membership else None,
    }


def _my_presence(request) -> dict | None:
    """The signed-in person as an agent of this organization, with what others see of them
    (available, away, in a call, away with the softphone offline); None for someone who is no
    person-agent here (they have no softphone). Once per request, however many templates ask."""
    if not hasattr(request, "_my_presence"):
        agent = request_agent(request)
        if agent is None or agent.kind != AgentKind.HUMAN:
            request._my_presence = None
        else:
            status = presence.status_of([agent], request.organization.pk)[str(agent.pk)]
            request._my_presence = {"agent": agent, "status": status, "label": presence.LABELS[status]}
    return request._my_presence
