"""The tool's RSA keys: one pair per registered platform, published as a JWKS."""

from __future__ import annotations

import json
import secrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def new_key_pair() -> tuple[str, str]:
    """A fresh (kid, private key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return secrets.token_urlsafe(16), pem


def public_jwk(*, kid: str, private_key_pem: str) -> dict[str, Any]:
    private = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))  # type: ignore[arg-type]
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def public_key_pem(private_key_pem: str) -> str:
    private = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
