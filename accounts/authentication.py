"""API tokens: django-rest-knox's hashed, expiring, revocable tokens, sent as ``Authorization: Token <key>``."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

# knox's keys: AUTH_TOKEN_CHARACTER_LENGTH hex digits, no prefix.
TOKEN_PATTERN = re.compile(rb"[0-9a-f]{64}")


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's authentication; a malformed key (non-ASCII, NUL) is a 401, never a 500."""

    def authenticate_credentials(self, token: bytes) -> Any:
        if not TOKEN_PATTERN.fullmatch(token):
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)


class TokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")
