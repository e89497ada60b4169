from __future__ import annotations

from django.urls import path

import config.converters  # noqa: F401  (registers <id:...>)
from accounts import api

urlpatterns = [
    path("auth/token", api.TokenView.as_view(), name="api-token"),
    path("auth/logout", api.LogoutView.as_view(), name="api-logout"),
    path("auth/logout-all", api.LogoutAllView.as_view(), name="api-logout-all"),
    path("me", api.MeView.as_view(), name="api-me"),
    path("users/", api.UserListView.as_view(), name="api-users"),
    path("users/<id:pk>/", api.UserDetailView.as_view(), name="api-user-detail"),
]
