"""Lambda events shaped as the Lambda service delivers them, and response helpers."""

from __future__ import annotations

import base64
import json
from typing import Any


def api_event(
    body: Any = None,
    *,
    raw_body: str | None = None,
    base64_encoded: bool = False,
    method: str = "POST",
    path: str = "/v1/jobs",
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event."""
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    if text is not None and base64_encoded:
        text = base64.b64encode(text.encode()).decode()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": path}},
        "isBase64Encoded": base64_encoded,
    }
    if text is not None:
        event["body"] = text
    if path_parameters is not None:
        event["pathParameters"] = path_parameters
    return event


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS event source mapping batch built from received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "eventSource": "aws:sqs",
            }
            for message in messages
        ]
    }


def body_of(response: dict[str, Any]) -> Any:
    """The decoded JSON body of an API Gateway proxy response."""
    return json.loads(response["body"])
