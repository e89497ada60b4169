"""A small LTI 1.3 platform (the LMS side) on loopback, for tests: its own RSA key, its JWKS served over
HTTP from a thread, id_tokens it signs, an OIDC authorisation endpoint that answers with the auto-posting
form real platforms use, and Proctoring Services' start_assessment_url. The tool under test fetches the
keys over HTTP and verifies real signatures; nothing is mocked.

Built on PyJWT and cryptography rather than lti1p3platform: a few dozen lines that give each test full
control over what is signed (wrong audience, expired, another key), which a full platform hides."""

from __future__ import annotations

import html
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from exams.lti import claims as C

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


class LoopbackPlatform:
    def __init__(self, *, client_id: str = "openproctor-tool", deployment_id: str = "deployment-1") -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"platform-{uuid.uuid4().hex[:8]}"
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.users: dict[str, dict[str, Any]] = {}  # login_hint -> the claims of its next launch
        self.tool_login_url = ""  # set by a browser test: where /start sends the browser
        self.received: list[dict[str, str]] = []  # forms posted to /start-assessment
        self.jwks_fetches = 0
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: str, content_type: str = "text/html",
                      headers: dict | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/jwks":
                    platform.jwks_fetches += 1
                    self._send(200, json.dumps(platform.jwks()), "application/json")
                elif url.path == "/internal":  # what an address inside the network answers (not keys)
                    self._send(200, "INTERNAL-ONLY db_password=hunter2", "text/plain")
                elif url.path == "/start":  # the course page's link: third-party initiated login
                    self._send(302, "", headers={"Location": platform.tool_login_url + "?" + urlencode(
                        platform.login_params(query["hint"]))})
                elif url.path == "/auth":
                    self._send(200, platform.authorize(query))
                else:
                    self._send(404, "not found")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlparse(self.path).path == "/start-assessment":
                    platform.received.append(form)
                    self._send(200, "<!doctype html><title>Assessment</title><h1 id='assessment'>The assessment</h1>")
                else:
                    self._send(404, "not found")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def registration(self) -> dict[str, Any]:
        """What an admin copies into the tool's registration form."""
        return {"issuer": self.issuer, "client_id": self.client_id, "deployment_ids": [self.deployment_id],
                "auth_login_url": f"{self.url}/auth", "keyset_url": f"{self.url}/jwks",
                "auth_token_url": f"{self.url}/token"}

    def claims(self, *, sub: str, roles: list[str], resource_link_id: str = "link-1", email: str = "",
               name: str = "", message_type: str = C.RESOURCE_LINK_REQUEST, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sub": sub, C.MESSAGE_TYPE: message_type, C.VERSION: "1.3.0", C.DEPLOYMENT_ID: self.deployment_id,
            C.ROLES: roles, C.TARGET_LINK_URI: "https://tool.example/lti/launch",
            C.RESOURCE_LINK: {"id": resource_link_id, "title": "Midterm (proctored)"},
            C.CONTEXT: {"id": "course-101", "title": "Statistics 101"},
        }
        if email:
            body["email"] = email
        if name:
            body["name"] = name
        return {**body, **extra}

    def id_token(self, *, nonce: str, claims: dict[str, Any], aud: Any = None, issuer: str | None = None,
                 expires_in: int = 300, key: Any = None, kid: str | None = None) -> str:
        now = int(time.time())
        body = {"iss": issuer or self.issuer, "aud": self.client_id if aud is None else aud, "iat": now - 5,
                "exp": now + expires_in, "nonce": nonce, **claims}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    def login_params(self, hint: str) -> dict[str, str]:
        return {"iss": self.issuer, "login_hint": hint, "target_link_uri": "https://tool.example/lti/launch",
                "client_id": self.client_id, "lti_deployment_id": self.deployment_id}

    def authorize(self, query: dict[str, str]) -> str:
        """The OIDC authorisation endpoint: an auto-posting form with a signed id_token for the hint's user."""
        assert query["client_id"] == self.client_id and query["response_mode"] == "form_post"
        token = self.id_token(nonce=query["nonce"], claims=self.users[query["login_hint"]])
        fields = {"id_token": token, "state": query["state"]}
        inputs = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in fields.items())
        return (f'<!doctype html><title>Launching</title><form id="f" method="post" '
                f'action="{html.escape(query["redirect_uri"])}">{inputs}</form>'
                '<script>document.getElementById("f").submit()</script>')
