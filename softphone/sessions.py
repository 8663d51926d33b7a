"""Signed-in sessions end after SESSION_IDLE_MINUTES without a request.

The time of the last request is kept in the session, written at most once a minute (so a busy
session costs no extra write per request); a session whose last request is older than the limit is
logged out before the view runs, and the view then answers as it does to anyone signed out (the
login page, or 401/403 for the API). The stamp names the user it was written for: a session that
was idle before someone logged in with it starts afresh.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

SESSION_KEY = "_softphone_seen"
WRITE_EVERY_SECONDS = 60


def session_started(sender, request, user, **kwargs) -> None:
    """At login (user_logged_in): the idle clock starts now."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = [str(user.pk), int(time.time())]


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.SESSION_IDLE_MINUTES * 60
        if limit and settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            self._check(request, limit)
        return self.get_response(request)

    @staticmethod
    def _check(request, limit: int) -> None:
        now = int(time.time())
        user_id = str(request.user.pk)
        seen = request.session.get(SESSION_KEY)
        last = seen[1] if isinstance(seen, list) and len(seen) == 2 and seen[0] == user_id else None
        if last is not None and now - last > limit:
            logout(request)
            messages.info(request, f"You were signed out after {settings.SESSION_IDLE_MINUTES} minutes "
                                   "without activity. Sign in again to continue.")
            return
        if last is None or now - last >= WRITE_EVERY_SECONDS:
            request.session[SESSION_KEY] = [user_id, now]
