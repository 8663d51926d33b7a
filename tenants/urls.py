from django.urls import path

from . import api, views

app_name = "tenants"

# Mounted under /o/<org_slug>/ (HTML).
html_patterns = [
    path("", views.organization_home, name="organization-home"),
    path("team/", views.team, name="team"),
    path("team/invitations/", views.invitation_create, name="invitation-create"),
    path("team/invitations/<uuid:invitation_id>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("team/members/<uuid:membership_id>/role/", views.member_role, name="member-role"),
    path("team/members/<uuid:membership_id>/remove/", views.member_remove, name="member-remove"),
    path("team/members/<uuid:membership_id>/clients/", views.member_clients, name="member-clients"),
    path("team/agent-visibility/", views.agent_visibility, name="agent-visibility"),
    path("clients/", views.client_list, name="client-list"),
    path("clients/<uuid:client_id>/", views.client_detail, name="client-detail"),
    path("clients/<uuid:client_id>/archive/", views.client_archive, name="client-archive"),
    path("agents/new/", views.agent_create, name="agent-create"),
    path("agents/<uuid:agent_id>/edit/", views.agent_edit, name="agent-edit"),
    path("agents/<uuid:agent_id>/delete/", views.agent_delete, name="agent-delete"),
]

# Mounted under /api/<org_slug>/ (REST).
api_patterns = [
    path("agents", api.AgentListCreateApi.as_view(), name="api-agents"),
    path("clients", api.ClientListCreateApi.as_view(), name="api-clients"),
    path("clients/<uuid:client_id>", api.ClientDetailApi.as_view(), name="api-client-detail"),
    path("agents/<uuid:agent_id>", api.AgentDetailApi.as_view(), name="api-agent-detail"),
    path("members", api.MemberListApi.as_view(), name="api-members"),
    path("members/<uuid:membership_id>", api.MemberDetailApi.as_view(), name="api-member-detail"),
    path("settings", api.OrganizationSettingsApi.as_view(), name="api-settings"),
]
