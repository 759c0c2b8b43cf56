"""API Gateway HTTP API (payload format 2.0) helpers: read the body within limits, answer in JSON.

Every error response has the same shape, `{"error": "...", "field": "..." | null}`, so clients
can show the message and highlight the field without parsing prose.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

JSON_HEADERS = {"content-type": "application/json"}


class HttpError(Exception):
    """A client-facing failure: raise it anywhere in a handler, and `error_response` renders it."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": json.dumps(body),
    }


def error_response(error: HttpError) -> dict[str, Any]:
    return json_response(error.status, {"error": error.message, "field": error.field})


def request_body(event: dict[str, Any], limit: int) -> bytes:
    """The raw body bytes, decoded from base64 when API Gateway encoded them; 413 past `limit`."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        # Every 4 base64 characters carry 3 bytes: refuse before decoding a huge body.
        if len(body) // 4 * 3 > limit + 3:
            raise _too_large(limit)
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise HttpError(400, "body is not valid base64") from error
    else:
        raw = body.encode("utf-8")
    if len(raw) > limit:
        raise _too_large(limit)
    return raw


def _too_large(limit: int) -> HttpError:
    return HttpError(413, f"request body exceeds the limit of {limit} bytes")


def json_object(raw: bytes) -> dict[str, Any]:
    """Parse a JSON object body; anything else is a 400 that says what was wrong."""
    if not raw.strip():
        raise HttpError(400, "request body is empty; send a JSON object")
    try:
        document = json.loads(raw)
    except (
        ValueError,
        RecursionError,
    ) as error:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise HttpError(400, f"request body is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise HttpError(400, f"request body must be a JSON object, not {type(document).__name__}")
    return document


def instances(document: dict[str, Any], field: str) -> list[Any]:
    """The non-empty `instances` list that the model contract expects; the model checks each row."""
    value = document.get("instances")
    if not isinstance(value, list) or not value:
        raise HttpError(400, 'expected a non-empty "instances" list of feature rows', field)
    return value


def uuid_path_parameter(event: dict[str, Any], noun: str) -> str:
    """The `{id}` path parameter as a lowercase UUID, or a 400 (checked first, so no string ever becomes a key)."""
    raw = (event.get("pathParameters") or {}).get("id")
    try:
        if not isinstance(raw, str) or str(uuid.UUID(raw)) != raw.lower():
            raise ValueError
    except ValueError as error:
        raise HttpError(400, f"{noun} id must be a UUID like 3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90", "id") from error
    return raw.lower()
