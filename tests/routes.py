"""Discover the project's URL patterns, so security tests cover routes added later by themselves."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

_CONVERTER = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Route:
    route: str  # e.g. "o/<slug:org_slug>/agents/<uuid:agent_id>/edit/"
    name: str | None
    callback: object

    @property
    def is_org_html(self) -> bool:
        return self.route.startswith("o/<slug:org_slug>/")

    @property
    def is_org_api(self) -> bool:
        return self.route.startswith("api/<slug:org_slug>/")

    def path(self, org_slug: str, ids: dict[str, str] | None = None) -> str:
        ids = ids or {}

        def fill(match):
            conv, name = match.group("conv"), match.group("name")
            if name == "org_slug":
                return org_slug
            if name in ids:
                return str(ids[name])
            if conv == "uuid":
                return str(uuid.uuid4())
            if conv in ("int", "path"):
                return "1"
            return "x"

        return "/" + _CONVERTER.sub(fill, self.route)


def _walk(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry, route)
        elif isinstance(entry, URLPattern):
            yield Route(route=route.lstrip("^").rstrip("$"), name=entry.name, callback=entry.callback)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver()))


def org_routes() -> list[Route]:
    return [r for r in all_routes() if r.is_org_html or r.is_org_api]
