"""POST /v1/predict: the synchronous proxy, against the real model server over HTTP."""

from __future__ import annotations

import json

import pytest

from lambdas import contract
from lambdas.predict import handler as predict
from tests.lambdas.lambda_events import api_event, body_of
from tests.lambdas.scripted_server import LambdaContext, scripted_server

SETOSA, VIRGINICA = [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]


def test_a_batch_is_answered_200_with_the_models_predictions(http_model) -> None:
    response = predict.handler(api_event({"instances": [SETOSA, VIRGINICA]}), None)

    body = body_of(response)
    assert response["statusCode"] == 200
    assert [p["label"] for p in body["predictions"]] == ["setosa", "virginica"]
    assert body["model_version"].startswith("iris-")


def test_input_the_model_rejects_is_a_400_carrying_the_models_reason(
    http_model,
) -> None:
    response = predict.handler(api_event({"instances": [[1.0, 2.0]]}), None)

    body = body_of(response)
    assert response["statusCode"] == 400
    assert body["field"] == "instances"
    assert "instances[0] has 2 features; expected 4" in body["error"]


@pytest.mark.parametrize(
    ("raw_body", "words"),
    [("{oops", "not valid JSON"), ('{"rows": []}', "instances"), ("[]", "JSON object")],
)
def test_a_malformed_request_is_400_without_calling_the_model(http_model, raw_body: str, words: str) -> None:
    calls_before = http_model.invocations

    response = predict.handler(api_event(raw_body=raw_body), None)

    assert response["statusCode"] == 400
    assert words in body_of(response)["error"]
    assert http_model.invocations == calls_before


def test_a_body_over_the_payload_limit_is_413(http_model, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.MAX_PAYLOAD_BYTES, "100")

    response = predict.handler(api_event({"instances": [SETOSA] * 10}), None)

    assert response["statusCode"] == 413


def test_a_model_that_is_down_is_a_502_json_error(unreachable_model) -> None:
    response = predict.handler(api_event({"instances": [SETOSA]}), None)

    assert response["statusCode"] == 502
    assert body_of(response) == {
        "error": "the model is unavailable; retry later",
        "field": None,
    }
    assert response["headers"]["content-type"] == "application/json"


def test_a_misconfigured_backend_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(contract.MODEL_BACKEND, "carrier-pigeon")

    with pytest.raises(RuntimeError, match="MODEL_BACKEND='carrier-pigeon'"):
        predict.handler(api_event({"instances": [SETOSA]}), None)


def test_only_http_urls_are_ever_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
    monkeypatch.setenv(contract.MODEL_URL, "file:///etc")

    with pytest.raises(RuntimeError, match="http"):
        predict.handler(api_event({"instances": [SETOSA]}), None)


def test_the_json_sent_to_the_model_is_exactly_the_instances(http_model) -> None:
    response = predict.handler(api_event({"instances": [SETOSA]}), None)

    assert json.loads(response["body"])["predictions"][0]["label"] == "setosa"


# --- the answer is always ours: budgeted from the invocation's time left (issue 11, defect 5) ---------------


def test_a_model_slower_than_the_time_left_is_a_504_of_our_own(http_model, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN 1.2 s left in the invocation WHEN a prediction is asked THEN predict answers 504 itself (keeping
    its reply margin) instead of starting a call that API Gateway or Lambda would cut."""
    calls_before = http_model.invocations

    response = predict.handler(api_event({"instances": [SETOSA]}), LambdaContext(remaining_ms=1_200))

    assert response["statusCode"] == 504
    assert body_of(response)["error"].startswith("the model did not answer within")
    assert http_model.invocations == calls_before


def test_a_model_that_times_out_is_a_504_naming_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    with scripted_server(delay_seconds=3) as model:
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
        monkeypatch.setenv(contract.MODEL_URL, model.url)
        monkeypatch.setenv(contract.MODEL_TIMEOUT_SECONDS, "1")

        response = predict.handler(api_event({"instances": [SETOSA]}), LambdaContext(remaining_ms=25_000))

    assert response["statusCode"] == 504
    assert body_of(response) == {
        "error": "the model did not answer within 1.0 s; retry later",
        "field": None,
    }


def test_a_body_that_grows_past_the_limit_when_re_encoded_is_413_not_sent(
    http_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python writes 1e-7 as 1e-07: the forwarded body is checked against the limit too, not only the request."""
    raw = '{"instances":[[1e-7,1e-7,1e-7,1e-7]]}'
    monkeypatch.setenv(contract.MAX_PAYLOAD_BYTES, str(len(raw)))
    calls_before = http_model.invocations

    response = predict.handler(api_event(raw_body=raw), None)

    assert response["statusCode"] == 413
    assert body_of(response)["field"] == "instances"
    assert http_model.invocations == calls_before
