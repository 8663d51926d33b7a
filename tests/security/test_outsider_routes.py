"""A member of another organization gets 404 on every route of ours, whatever the method.

The routes are discovered from the URL configuration: a route added later is covered without
editing this file.
"""

import pytest

from tests.routes import org_routes

ROUTES = org_routes()
METHODS = ["get", "post", "patch", "put", "delete"]


def test_the_route_walker_finds_html_and_api_routes():
    assert any(r.is_org_html for r in ROUTES)
    assert any(r.is_org_api for r in ROUTES)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.route)
def test_member_of_another_organization_gets_404(route, org, outsider_client):
    for method in METHODS:
        response = getattr(outsider_client, method)(route.path(org.slug), content_type="application/json")
        assert response.status_code == 404, f"{method.upper()} {route.route} answered {response.status_code}"
        assert b"Acme" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.route)
def test_unknown_organization_is_404_for_everyone(route, owner_client):
    response = owner_client.get(route.path("no-such-org"))
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.route)
def test_anonymous_requests_are_sent_to_login_or_refused(route, org, client):
    response = client.get(route.path(org.slug))
    if route.is_org_api:
        assert response.status_code == 401
        assert response.json() == {"detail": "Authentication credentials were not provided."}
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
