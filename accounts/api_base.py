"""Building blocks shared by every API view: tenant scope, role permissions, strict input."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import permissions, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import tenancy
from accounts.models import Role
from accounts.timezones import zone_for


class Pagination(LimitOffsetPagination):
    """``?limit=`` and ``?offset=`` that answer 400 when they are not integers in range.

    DRF's own class ignores a bad value and passes any size through, so ``?limit=10**30`` reached the
    database as an out-of-range LIMIT (a 500 on PostgreSQL).
    """

    default_limit = 50
    max_limit = 200
    max_offset = 1_000_000_000

    def get_limit(self, request: Request) -> int:
        return _bounded_int(request, self.limit_query_param, default=self.default_limit, low=1, high=self.max_limit)

    def get_offset(self, request: Request) -> int:
        return _bounded_int(request, self.offset_query_param, default=0, low=0, high=self.max_offset)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        bounds = {self.limit_query_param: (1, self.max_limit), self.offset_query_param: (0, self.max_offset)}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            low, high = bounds[parameter["name"]]
            parameter["schema"] = {**parameter["schema"], "minimum": low, "maximum": high}
        return parameters


def _bounded_int(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ValidationError({name: [f"Must be an integer from {low} to {high}."]})
    return value


class TenantAPIView(APIView):
    """An API view that runs inside the authenticated user's tenant scope.

    DRF authenticates inside the view (token auth), after the middleware has run, so the scope and
    the user's time zone (times in and out, with their offset) are activated here;
    ``TenantScopeMiddleware`` and ``TimeZoneMiddleware`` reset them when the request ends.
    """

    allowed_roles: tuple[str, ...] = (Role.ADMIN,)
    # Read by ``paginated`` and by drf-spectacular, which then documents list responses as pages.
    pagination_class = Pagination

    def get_permissions(self) -> list[permissions.BasePermission]:
        return [permissions.IsAuthenticated(), HasRole(self.allowed_roles)]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        tenancy.activate(tenancy.scope_for_user(request.user))
        timezone.activate(zone_for(request.user))


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


class QueryFilters(serializers.Serializer):
    """A list view's query-string filters, validated like a body (``?exam=abc`` is a 400, not a 500).

    Unknown parameters (``limit``, ``offset``, ``format``) are left to whoever reads them.
    """


def query_filters(request: Request, filters: type[QueryFilters]) -> dict[str, Any]:
    """The validated filters that were given (empty ones are left out)."""
    data = filters(data=request.query_params)
    data.is_valid(raise_exception=True)
    return {name: value for name, value in data.validated_data.items() if value not in (None, "")}


def id_filter() -> serializers.IntegerField:
    """An optional id in a query string: a positive 64-bit integer (the primary keys' type)."""
    return id_field(required=False)


def id_field(**options: Any) -> serializers.IntegerField:
    """An id in a request body: a positive 64-bit integer, so that a larger number is a 400, not a database's
    overflow (SQLite raised OverflowError on an enrolment of 2**64: a 500)."""
    return serializers.IntegerField(min_value=1, max_value=2**63 - 1, **options)


def paginated(request: Request, view: APIView, queryset: Any, serializer: type[serializers.Serializer]) -> Response:
    """``{"count", "next", "previous", "results"}`` with ?limit= and ?offset=."""
    paginator = (getattr(view, "pagination_class", None) or Pagination)()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


def created(data: Any) -> Response:
    return Response(data, status=201)
