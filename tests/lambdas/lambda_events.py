"""The handlers' events (tools/lambda_events.py) with the defaults these tests use, and response helpers."""

from __future__ import annotations

import json
from typing import Any

from tools import lambda_events
from tools.lambda_events import sqs_event

__all__ = ["api_event", "body_of", "sqs_event"]


def api_event(
    body: Any = None,
    *,
    raw_body: str | None = None,
    base64_encoded: bool = False,
    method: str = "POST",
    path: str = "/v1/jobs",
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, by default a job submission (POST /v1/jobs)."""
    return lambda_events.api_event(
        method, path, body, raw_body=raw_body, base64_encoded=base64_encoded, path_parameters=path_parameters
    )


def body_of(response: dict[str, Any]) -> Any:
    """The decoded JSON body of an API Gateway proxy response."""
    return json.loads(response["body"])
