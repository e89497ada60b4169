"""API tokens: django-rest-knox's hashed, expiring, revocable tokens, sent as ``Authorization: Token <key>``."""

from __future__ import annotations

import re
from hmac import compare_digest
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework.exceptions import AuthenticationFailed

# knox's keys: AUTH_TOKEN_CHARACTER_LENGTH hex digits, no prefix.
TOKEN_PATTERN = re.compile(rb"[0-9a-f]{64}")


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's authentication in one query; a malformed key (non-ASCII, NUL) is a 401, never a 500.

    knox reads all of the user's tokens on every request to delete the expired ones, and the
    user's institution (tenant scope, time zone) cost another query: a third of the web's
    queries per frame. Here the token comes with its user and institution; an expired token is
    still refused and deleted when used, and the others are deleted when the user is issued a
    new one (``accounts.services.token_issue``), which bounds the table as before.
    """

    def authenticate_credentials(self, token: bytes) -> Any:
        if not TOKEN_PATTERN.fullmatch(token):
            raise AuthenticationFailed("Invalid token.")
        key = token.decode()
        digest = hash_token(key)
        candidates = AuthToken.objects.filter(token_key=key[:CONSTANTS.TOKEN_KEY_LENGTH]).select_related(
            "user", "user__institution")
        for auth_token in candidates:
            if not compare_digest(digest, auth_token.digest):
                continue
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                username = auth_token.user.get_username()
                auth_token.delete()
                token_expired.send(sender=self.__class__, username=username, source="auth_token")
                break
            if knox_settings.AUTO_REFRESH and auth_token.expiry:
                self.renew_token(auth_token)
            return self.validate_user(auth_token)
        raise AuthenticationFailed("Invalid token.")


class TokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")
