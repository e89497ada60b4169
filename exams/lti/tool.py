"""pylti1p3's view of our registrations: a ToolConf read from LtiPlatform rows.

A platform is found by issuer *and* client id (never by issuer alone: one LMS such as Canvas cloud
has one issuer for every university), and only while it is active."""

from __future__ import annotations

from typing import Any

from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract

from exams.lti.keys import public_key_pem
from exams.lti.models import LtiPlatform


def find_platform(*, issuer: str, client_id: str | None) -> LtiPlatform | None:
    """The active registration for this issuer and client id. Without a client id (the OIDC login
    initiation may omit it) only an issuer with exactly one registration answers."""
    platforms = LtiPlatform.unscoped.filter(issuer=issuer, is_active=True).select_related("institution")
    if client_id:
        return platforms.filter(client_id=client_id).first()
    found = list(platforms[:2])
    return found[0] if len(found) == 1 else None


class PlatformToolConf(ToolConfAbstract):
    def __init__(self) -> None:
        super().__init__()
        self.platform: LtiPlatform | None = None  # the registration the last lookup found

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def _registration(self, platform: LtiPlatform | None) -> Registration | None:
        self.platform = platform
        if platform is None:
            return None
        return (Registration().set_issuer(platform.issuer).set_client_id(platform.client_id)
                .set_auth_login_url(platform.auth_login_url).set_auth_token_url(platform.auth_token_url)
                .set_key_set_url(platform.keyset_url).set_tool_private_key(platform.private_key_pem)
                .set_tool_public_key(public_key_pem(platform.private_key_pem)))

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration | None:  # type: ignore[override]
        return self._registration(find_platform(issuer=iss, client_id=None))

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any,  # type: ignore[override]
                                    **kwargs: Any) -> Registration | None:
        return self._registration(find_platform(issuer=iss, client_id=client_id))

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return None  # every issuer is looked up with its client id

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str, *args: Any,
                                  **kwargs: Any) -> Deployment | None:
        platform = find_platform(issuer=iss, client_id=client_id)
        if platform is None or deployment_id not in (platform.deployment_ids or []):
            return None
        return Deployment().set_deployment_id(deployment_id)
