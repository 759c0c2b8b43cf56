"""The events the Lambda service hands the handlers in lambdas/, for code that calls a handler itself.

Why one home: the emulator cannot invoke functions (moto runs them in Docker, which these machines lack), so the
pipeline CLI (tools/pipeline/local.py), the smoke tests (tools/local/) and the handlers' tests all call the handlers
in this process and hand them what API Gateway and the SQS event source mapping would. They hand them the same
shape: a field the handlers start to read is added here once, and every caller delivers it.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

# What the in-process callers say they are, where API Gateway would pass on the client's User-Agent.
USER_AGENT = "in-process-caller"


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    route: str | None = None,
    path_parameters: dict[str, str] | None = None,
    raw_body: str | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """The event API Gateway (HTTP API, payload format 2.0) hands a Lambda integration for METHOD PATH.

    ROUTE is the route that matched (`/v1/jobs/{id}`; PATH when not given); BODY is sent as JSON, RAW_BODY as it
    is (a body that is not JSON); BASE64_ENCODED sends the body base64-encoded, as API Gateway sends binary bodies.
    """
    now = time.time()
    route_key = f"{method} {route or path}"
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    if text is not None and base64_encoded:
        text = base64.b64encode(text.encode()).decode()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "user-agent": USER_AGENT},
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": USER_AGENT,
            },
            "routeKey": route_key,
            "stage": "$default",
            "requestId": str(uuid.uuid4()),
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": base64_encoded,
    }
    if text is not None:
        event["body"] = text
    if path_parameters is not None:
        event["pathParameters"] = path_parameters
    return event


def sqs_event(
    messages: list[dict[str, Any]], queue_arn: str | None = None, region: str | None = None
) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from MESSAGES (as `receive_message` returns them).

    QUEUE_ARN and REGION fill the records' `eventSourceARN` and `awsRegion`; a caller that does not know them
    (the handlers read neither) leaves them out.
    """

    def attribute(value: dict[str, Any]) -> dict[str, Any]:
        return {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }

    source = {"eventSourceARN": queue_arn} if queue_arn is not None else {}
    source |= {"awsRegion": region} if region is not None else {}
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "md5OfBody": message.get("MD5OfBody", ""),
                "messageAttributes": {
                    name: attribute(value) for name, value in message.get("MessageAttributes", {}).items()
                },
                "eventSource": "aws:sqs",
                **source,
            }
            for message in messages
        ]
    }
