"""Call the pipeline's HTTP API the way its authorization mode requires: SigV4 (auth = "iam"), a Bearer token
(auth = "jwt"), or nothing (auth = "none"). The smoke call of `make verify` uses it; so can any tool that talks
to the deployed API (a pipeline CLI, a load test).

Why the standard library and botocore only: both are already here (botocore signs the request exactly as the AWS
CLI would), so no HTTP or signing dependency is added for one request.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

TOKEN_ENV = "PIPELINE_API_TOKEN"  # the Bearer token for auth = "jwt"
SERVICE = "execute-api"
TIMEOUT_SECONDS = 35.0  # above the API's 30 s integration maximum: the API answers (504) before we give up


class ApiCallError(RuntimeError):
    """The call could not be made (no credentials, no token, the host unreachable); the message says which."""


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any  # the JSON document, or the text when the body is not JSON
    headers: dict[str, str]

    def excerpt(self, limit: int = 300) -> str:
        text = self.body if isinstance(self.body, str) else json.dumps(self.body)
        return text if len(text) <= limit else text[:limit] + "..."


class ApiClient:
    """`ApiClient(url, auth, region).request("POST", "/v1/predict", {...})`; URL is the `api_invoke_url` output."""

    def __init__(self, base_url: str, auth: str, region: str, *, token: str | None = None, session: Any = None,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        if auth not in ("iam", "jwt", "none"):
            raise ApiCallError(f"unknown auth {auth!r}; allowed: iam, jwt, none")
        self.base_url, self.auth, self.region, self.timeout = base_url.rstrip("/"), auth, region, timeout
        self.token = token if token is not None else os.environ.get(TOKEN_ENV)
        self.session = session
        if auth == "jwt" and not self.token:
            raise ApiCallError(f"auth = 'jwt' needs a token: set {TOKEN_ENV} to a Bearer token the API's issuer "
                               "signed for one of its audiences")

    def request(self, method: str, path: str, body: Any = None) -> ApiResponse:
        url = f"{self.base_url}/{path.lstrip('/')}"
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if data is not None else {}
        if self.auth == "iam":
            headers = self._signed(method, url, data, headers)
        elif self.auth == "jwt":
            headers["authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (the API's URL)
                return _response(response.status, response.read(), dict(response.headers))
        except urllib.error.HTTPError as error:
            return _response(error.code, error.read(), dict(error.headers or {}))
        except (urllib.error.URLError, OSError) as error:
            raise ApiCallError(f"{method} {url}: {getattr(error, 'reason', error)}") from None

    def _signed(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = self.session or boto3.session.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise ApiCallError("auth = 'iam' signs with AWS credentials, and none were found (environment, profile "
                               "or role); the caller also needs execute-api:Invoke on the route")
        signed = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), SERVICE, self.region).add_auth(signed)
        return dict(signed.headers.items())


def _response(status: int, raw: bytes, headers: dict[str, str]) -> ApiResponse:
    text = raw.decode("utf-8", errors="replace")
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = text
    return ApiResponse(status=status, body=body, headers=headers)
