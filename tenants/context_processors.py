from .selectors import organizations_for_user


def tenant(request):
    organization = getattr(request, "organization", None)
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    return {
        "organization": organization,
        "membership": membership,
        "can_manage": bool(membership and membership.can_manage),
        "user_organizations": (lambda: organizations_for_user(user)) if user and user.is_authenticated else (),
    }
