from __future__ import annotations

from django.contrib.auth import authenticate
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services, throttle
from accounts.api_base import QueryFilters, StrictSerializer, TenantAPIView, created, paginated, query_filters
from accounts.errors import AppError
from accounts.models import Role, User


class TokenView(APIView):
    """Exchange an email and password for the user's API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class Input(StrictSerializer):
        email = serializers.EmailField()
        password = serializers.CharField(max_length=256, trim_whitespace=False)

    class Output(serializers.Serializer):
        token = serializers.CharField()

    @extend_schema(request=Input, responses={200: Output}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].strip().lower()
        password = data.validated_data["password"]
        if throttle.login_blocked(request, email):
            raise AppError(
                "Too many failed attempts. Try again later.", code="throttled", status_code=429
            )
        user = authenticate(request, email=email, password=password)
        if user is None:
            throttle.record_login_failure(request, email)
            raise AppError("Email or password is wrong.", code="invalid_credentials", status_code=400)
        throttle.clear_login_failures(request, email)
        return Response(self.Output({"token": services.user_api_token(user=user)}).data)


class UserOutput(serializers.ModelSerializer):
    institution = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "student_number", "role", "institution", "is_active"]


class MeView(TenantAPIView):
    allowed_roles = tuple(Role.values)

    @extend_schema(responses={200: UserOutput})
    def get(self, request: Request) -> Response:
        return Response(UserOutput(request.user).data)


class UserListView(TenantAPIView):
    """An institution's users (admins only); POST adds one."""

    class Input(StrictSerializer):
        email = serializers.EmailField(max_length=User._meta.get_field("email").max_length)
        role = serializers.ChoiceField(choices=Role.choices)
        full_name = serializers.CharField(max_length=200, required=False, default="")
        student_number = serializers.CharField(max_length=64, required=False, default="")
        password = serializers.CharField(max_length=256, required=False, trim_whitespace=False)

    class Filters(QueryFilters):
        role = serializers.ChoiceField(choices=Role.choices, required=False)

    @extend_schema(responses={200: UserOutput(many=True)}, parameters=[Filters])
    def get(self, request: Request) -> Response:
        users: QuerySet[User] = selectors.user_list(role=query_filters(request, self.Filters).get("role"))
        return paginated(request, self, users, UserOutput)

    @extend_schema(request=Input, responses={201: UserOutput})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(institution=request.user.institution, **data.validated_data)
        return created(UserOutput(user).data)


class UserDetailView(TenantAPIView):
    class Input(StrictSerializer):
        full_name = serializers.CharField(max_length=200, required=False)
        student_number = serializers.CharField(max_length=64, required=False)
        is_active = serializers.BooleanField(required=False)

    def get_object(self, pk: int) -> User:
        return get_object_or_404(User.objects.in_scope(), pk=pk)

    @extend_schema(responses={200: UserOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(UserOutput(self.get_object(pk)).data)

    @extend_schema(request=Input, responses={200: UserOutput})
    def patch(self, request: Request, pk: int) -> Response:
        user = self.get_object(pk)
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update(user=user, actor=request.user, **data.validated_data)
        return Response(UserOutput(user).data)
