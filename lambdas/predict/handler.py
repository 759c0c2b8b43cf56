"""POST /v1/predict: a synchronous proxy to the model, for callers that can wait a few seconds.

The body is forwarded as the model contract's `{"instances": [...]}`; the model checks each row and
its 4xx message comes back as our 400, so the client sees the real reason. A model that is down or
slow is a 502: the fault is upstream, and the client may retry.
"""

from __future__ import annotations

from typing import Any

from lambdas import model_client
from lambdas.contract import json_logger, max_payload_bytes
from lambdas.http import (
    HttpError,
    error_response,
    instances,
    json_object,
    json_response,
    request_body,
)

log = json_logger(__name__)


def predict(event: dict[str, Any]) -> dict[str, Any]:
    document = json_object(request_body(event, max_payload_bytes()))
    rows = instances(document, "instances")
    try:
        return model_client.invoke({"instances": rows})
    except model_client.ModelInputRejected as rejection:
        raise HttpError(
            400, f"the model rejected the input: {rejection}", "instances"
        ) from rejection
    except model_client.ModelUnavailable as failure:
        log.error("model call failed", extra={"fields": {"error": str(failure)}})
        raise HttpError(502, "the model is unavailable; retry later") from failure


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return json_response(200, predict(event))
    except HttpError as problem:
        return error_response(problem)
