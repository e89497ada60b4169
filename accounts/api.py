from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roster, selectors, services, throttle
from accounts.api_base import QueryFilters, StrictSerializer, TenantAPIView, created, paginated, query_filters
from accounts.errors import AppError
from accounts.mail import site_url
from accounts.models import Role, User


class TokenView(APIView):
    """Exchange an email and password for a new API token, shown once; it expires at ``expiry``."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class Input(StrictSerializer):
        email = serializers.EmailField(max_length=254)  # the column's length (and django-axes' 255)
        password = serializers.CharField(max_length=256, trim_whitespace=False)
        institution = serializers.SlugField(required=False, max_length=50, help_text=(
            "The institution's slug; needed only when the email and password fit accounts at several."))

    class Output(serializers.Serializer):
        token = serializers.CharField()
        expiry = serializers.DateTimeField(allow_null=True)

    @extend_schema(request=Input, responses={200: Output}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].strip().lower()
        password = data.validated_data["password"]
        if throttle.address_blocked(request):
            raise Throttled(wait=settings.LOGIN_ADDRESS_FAILURE_WINDOW, detail=throttle.LOCKED_OUT_MESSAGE)
        wait = throttle.account_locked_for(request, email)
        if wait:
            raise Throttled(wait=wait, detail=throttle.LOCKED_OUT_MESSAGE)
        # django-axes counts failures on the HttpRequest (its middleware answers a lockout).
        user = authenticate(request._request, email=email, password=password,
                            institution=data.validated_data.get("institution"))
        if user is None:
            if getattr(request._request, "axes_locked_out", False):
                throttle.record_address_failure(request)
                raise AppError(throttle.LOCKED_OUT_MESSAGE, code="throttled", status_code=429)
            if getattr(request._request, "login_needs_institution", False):
                raise AppError("This email and password fit accounts at several institutions; send "
                               "'institution' too.", code="institution_required")
            throttle.record_address_failure(request)
            raise AppError("Email or password is wrong.", code="invalid_credentials", status_code=400)
        # As a page login does: django-axes clears this account's failures from this address.
        user_logged_in.send(sender=type(user), request=request._request, user=user)
        instance, key = services.token_issue(user=user)
        return Response(self.Output({"token": key, "expiry": instance.expiry}).data)


class LogoutView(TenantAPIView):
    """Revoke the API token this request is made with."""

    allowed_roles = tuple(Role.values)

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if not isinstance(request.auth, AuthToken):
            raise AppError("Sign out with the API token to revoke it.", code="token_required")
        services.token_revoke(token=request.auth)
        return Response(status=204)


class LogoutAllView(TenantAPIView):
    """Revoke every API token of the signed-in user."""

    allowed_roles = tuple(Role.values)

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        services.user_tokens_revoke(user=request.user)
        return Response(status=204)


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
        user = services.user_create(institution=request.user.institution, invite_base_url=site_url(request),
                                    actor=request.user, **data.validated_data)
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

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        """Delete a person with their sessions; their biometric data is erased everywhere."""
        roster.user_delete(user=self.get_object(pk), actor=request.user)
        return Response(status=204)
