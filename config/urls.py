from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import config.converters  # noqa: F401  (registers <id:...>)
from accounts import views as account_views
from accounts.admin import institution_admin_site
from config.dashboard import dashboard
from config.health import healthz
from exams import views as exam_views
from proctoring import api as proctoring_api

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("exams.api_urls")),
    path("", include("proctoring.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script from a URL, not inline: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
]

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(template_name="accounts/password_change.html"),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html"),
        name="password_change_done",
    ),
    path("accounts/password-reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password-reset/sent/",
         auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
         name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/",
         auth_views.PasswordResetConfirmView.as_view(template_name="accounts/password_reset_confirm.html"),
         name="password_reset_confirm"),
    path("accounts/reset/done/",
         auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
         name="password_reset_complete"),
    path("accounts/time-zone/", account_views.time_zone_page, name="account-time-zone"),
    path("exams/<id:pk>/", exam_views.exam_detail, name="exam-detail"),
    path("", include("config.urls_manage")),
    path("", include("proctoring.urls")),
    path("", include("exams.lti.urls")),
    path("healthz", healthz, name="healthz"),
    # The AWS sample's two endpoints, kept compatible.
    path("faces/index", proctoring_api.FaceIndexView.as_view(), name="faces-index"),
    path("process", proctoring_api.ProcessView.as_view(), name="process"),
    path("api/v1/", include(api_v1)),
    path("manage/", institution_admin_site.urls),
    path("platform/", admin.site.urls),
]

handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
