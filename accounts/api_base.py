"""Building blocks shared by every API view: tenant scope, role permissions, strict input."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions, serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import tenancy
from accounts.models import Role


class TenantAPIView(APIView):
    """An API view that runs inside the authenticated user's tenant scope.

    DRF authenticates inside the view (token auth), after the middleware has run, so the scope is
    activated here; ``TenantScopeMiddleware`` resets it when the request ends.
    """

    allowed_roles: tuple[str, ...] = (Role.ADMIN,)

    def get_permissions(self) -> list[permissions.BasePermission]:
        return [permissions.IsAuthenticated(), HasRole(self.allowed_roles)]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        tenancy.activate(tenancy.scope_for_user(request.user))


class HasRole(permissions.BasePermission):
    message = "Your role does not allow this."

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user.is_superuser or getattr(user, "role", "") in self.roles)


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know, so a typo is an error rather than silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def paginated(request: Request, view: APIView, queryset: Any, serializer: type[serializers.Serializer]) -> Response:
    """``{"count", "next", "previous", "results"}`` with ?limit= and ?offset=."""
    paginator = LimitOffsetPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


def created(data: Any) -> Response:
    return Response(data, status=201)
