from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crm import urls as crm_urls
from messaging import urls as messaging_urls
from softphone.views import healthz, not_found
from telephony import urls as telephony_urls
from tenants import signin
from tenants import urls as tenant_urls
from tenants import views as tenant_views

admin.site.site_header = "Softphone administration"
admin.site.site_title = "Softphone admin"

# Every app contributes HTML routes under /o/<org_slug>/ and REST routes under /api/<org_slug>/;
# the tenant middleware resolves the organization from `org_slug` and enters its scope.
org_html = [
    path("", include((tenant_urls.html_patterns, "tenants"))),
    path("", include((telephony_urls.html_patterns, "telephony"))),
    path("", include((messaging_urls.html_patterns, "messaging"))),
    path("", include((crm_urls.html_patterns, "crm"))),
]
org_api = [
    path("", include((tenant_urls.api_patterns, "tenants-api"))),
    path("", include((telephony_urls.api_patterns, "telephony-api"))),
    path("", include((messaging_urls.api_patterns, "messaging-api"))),
    path("", include((crm_urls.api_patterns, "crm-api"))),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("webhooks/", include((messaging_urls.webhook_patterns, "webhooks"))),
    path("webhooks/", include((telephony_urls.webhook_patterns, "voice-webhooks"))),
    *messaging_urls.public_patterns,
    path("simulator/", include("softphone.simulator.urls")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", signin.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password-reset/sent/", signin.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", signin.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("invite/<str:token>/", tenant_views.invitation_accept, name="invitation-accept"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", tenant_views.home, name="home"),
    path("o/<slug:org_slug>/", include(org_html)),
    path("api/<slug:org_slug>/", include(org_api)),
]

handler404 = not_found
