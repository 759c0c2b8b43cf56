"""Call the pipeline's HTTP API as a client would: SigV4-signed (auth = "iam"), with a bearer token (auth = "jwt"),
or plain (auth = "none").

`call_api()` is the one function other tools need for a smoke call through the real API (a release check, a
script); `HttpApi` keeps the URL and the credentials for a series of calls. Standard library HTTP plus botocore's
signer (already a dependency through boto3): nothing to install.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

AUTH_MODES = ("iam", "jwt", "none")
TIMEOUT_SECONDS = 35  # longer than API Gateway's 30 s integration maximum: the API answers first


class ApiError(RuntimeError):
    """The API could not be reached or signed for; the message is one line."""


@dataclass(frozen=True)
class Response:
    """An API answer: status, headers (lower-case names), and the JSON body (None when there is none)."""

    status: int
    headers: dict[str, str]
    body: Any

    @property
    def error(self) -> str:
        """The API's error message (`{"error", "field"}` shape) with its field, or the raw body."""
        if isinstance(self.body, dict) and "error" in self.body:
            field = f" (field {self.body['field']})" if self.body.get("field") else ""
            return f"{self.body['error']}{field}"
        return json.dumps(self.body) if self.body is not None else "(no body)"


def sigv4_headers(method: str, url: str, body: bytes, headers: dict[str, str], region: str) -> dict[str, str]:
    """HEADERS plus the SigV4 signature for execute-api, with the default credential chain (env, profile, SSO...)."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        raise ApiError("auth = iam needs AWS credentials (environment, profile or SSO) to sign the request")
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def call_api(url: str, method: str, path: str, body: Any = None, *, auth: str = "iam", region: str = "",
             token: str | None = None, timeout: float = TIMEOUT_SECONDS) -> Response:
    """One request to the API at URL (its invoke URL, e.g. `api_invoke_url`); the answer whatever its status.

    Raises ApiError only when no answer came (connection, TLS, timeout) or the request cannot be authorized.
    """
    if auth not in AUTH_MODES:
        raise ApiError(f"unknown auth {auth!r}; allowed: {', '.join(AUTH_MODES)}")
    full = url.rstrip("/") + "/" + path.lstrip("/")
    data = b"" if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"} if body is not None else {}
    if auth == "iam":
        if not region:
            raise ApiError("auth = iam needs the API's region to sign the request")
        headers = sigv4_headers(method, full, data, headers, region)
    elif auth == "jwt":
        if not token:
            raise ApiError("auth = jwt needs a bearer token: --token or PIPELINE_API_TOKEN")
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(full, data=data if body is not None else None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return _response(answer.status, dict(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as answer:
        return _response(answer.code, dict(answer.headers.items()), answer.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiError(f"{method} {full}: no answer ({reason})") from None


def _response(status: int, headers: dict[str, str], raw: bytes) -> Response:
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = raw.decode(errors="replace")
    return Response(status=status, headers={k.lower(): v for k, v in headers.items()}, body=body)


@dataclass(frozen=True)
class HttpApi:
    """The deployed API of an environment."""

    url: str
    auth: str
    region: str
    token: str | None = None

    def request(self, method: str, path: str, body: Any = None) -> Response:
        return call_api(self.url, method, path, body, auth=self.auth, region=self.region, token=self.token)

    def describe(self) -> str:
        return f"{self.url} (auth {self.auth})"
