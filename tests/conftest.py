"""Two tenants and three people, as healthchecks' alice, bob and charlie:

- ``org`` (Acme) with ``owner`` (alice), ``admin`` and ``agent_user`` (a human agent);
- ``other_org`` (Globex) with ``outsider`` (charlie), its owner, who must never see Acme's data.
"""

from __future__ import annotations

import pytest
from django.test import Client

from softphone import celery_app
from tenants.models import Role
from tests import factories


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Pages render without `collectstatic`: tests read static files from their folders."""
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(autouse=True)
def _celery_eager():
    """Unit tests run tasks inline; tests marked ``worker`` start a real Celery worker instead."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture
def owner(db):
    return factories.make_user("alice", first_name="Alice", last_name="Owner")


@pytest.fixture
def org(owner):
    return factories.make_organization("Acme", owner=owner, slug="acme")


@pytest.fixture
def admin(org):
    user = factories.make_user("bob", first_name="Bob", last_name="Admin")
    factories.add_member(org, user, Role.ADMIN)
    return user


@pytest.fixture
def agent_user(org):
    user = factories.make_user("dana", first_name="Dana", last_name="Agent")
    factories.add_member(org, user, Role.AGENT)
    return user


@pytest.fixture
def agent(org, agent_user):
    return factories.make_agent(org, user=agent_user, name="Dana Agent")


@pytest.fixture
def outsider(db):
    return factories.make_user("charlie", first_name="Charlie", last_name="Outsider")


@pytest.fixture
def other_org(outsider):
    return factories.make_organization("Globex", owner=outsider, slug="globex")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner, org):
    return _client_for(owner)


@pytest.fixture
def admin_client_org(admin):
    return _client_for(admin)


@pytest.fixture
def agent_client(agent_user):
    return _client_for(agent_user)


@pytest.fixture
def outsider_client(outsider, other_org):
    return _client_for(outsider)


@pytest.fixture
def staff_user(db):
    return factories.make_user("root", is_staff=True, is_superuser=True)
