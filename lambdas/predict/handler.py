"""POST /v1/predict: a synchronous proxy to the model, for callers that can wait a few seconds.

The body is forwarded as the model contract's `{"instances": [...]}`; the model checks each row and
its 4xx message comes back as our 400, so the client sees the real reason. A model that is down is a
502 and a model too slow for the time left is a 504: the fault is upstream, and the client may retry.

Why the model call is budgeted from the invocation's remaining time: API Gateway cuts the integration
at its timeout (30 s at most for an HTTP API) and answers a bare 503/504 of its own. Synth keeps this
function's timeout under the integration timeout; the call keeps REPLY_MARGIN_SECONDS under the
function's, so the answer (and its log line) is always ours.
"""

from __future__ import annotations

from typing import Any

from lambdas import model_client
from lambdas.contract import REPLY_MARGIN_SECONDS, max_payload_bytes
from lambdas.deadline import NO_DEADLINE, Deadline
from lambdas.http import HttpError, error_response, instances, json_object, json_response, request_body
from lambdas.json_logs import json_logger

log = json_logger(__name__)


def predict(event: dict[str, Any], deadline: Deadline = NO_DEADLINE) -> dict[str, Any]:
    document = json_object(request_body(event, max_payload_bytes()))
    rows = instances(document, "instances")
    try:
        return model_client.invoke({"instances": rows}, deadline)
    except model_client.PayloadTooLarge as too_large:
        raise HttpError(413, str(too_large), "instances") from too_large
    except model_client.ModelInputRejected as rejection:
        raise HttpError(400, f"the model rejected the input: {rejection}", "instances") from rejection
    except model_client.ModelTimeout as timeout:
        log.error("model call timed out", extra={"fields": {"error": str(timeout)}})
        raise HttpError(
            504, f"the model did not answer within {timeout.budget_seconds:.1f} s; retry later"
        ) from timeout
    except model_client.ModelUnavailable as failure:
        log.error("model call failed", extra={"fields": {"error": str(failure)}})
        raise HttpError(502, "the model is unavailable; retry later") from failure


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deadline = Deadline.from_context(context, reserve_seconds=REPLY_MARGIN_SECONDS)
    try:
        return json_response(200, predict(event, deadline))
    except HttpError as problem:
        return error_response(problem)
