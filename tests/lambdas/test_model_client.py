"""How model failures are classified: rejected input is final, everything else is worth a retry."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lambdas import contract, model_client


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The real sagemaker-runtime client with scripted answers (moto cannot produce ModelError)."""
    monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_SAGEMAKER)
    monkeypatch.setenv(contract.ENDPOINT_NAME, "iris-endpoint")
    with Stubber(model_client.sagemaker_runtime()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def model_error(stubber: Stubber, original_status: int, original_message: str) -> None:
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message="Received client error from primary",
        http_status_code=424,
        modeled_fields={
            "OriginalStatusCode": original_status,
            "OriginalMessage": original_message,
        },
    )


def test_a_4xx_from_the_endpoint_is_rejected_input_with_the_models_own_reason(
    sagemaker: Stubber,
) -> None:
    model_error(
        sagemaker, 400, json.dumps({"error": "instances[0] has 3 features; expected 4"})
    )

    with pytest.raises(model_client.ModelInputRejected, match="has 3 features"):
        model_client.invoke({"instances": [[1, 2, 3]]})


def test_a_5xx_from_the_endpoint_is_transient(sagemaker: Stubber) -> None:
    model_error(sagemaker, 500, "worker died")

    with pytest.raises(model_client.ModelUnavailable, match="ModelError"):
        model_client.invoke({"instances": [[1, 2, 3, 4]]})


def test_throttling_is_transient(sagemaker: Stubber) -> None:
    sagemaker.add_client_error(
        "invoke_endpoint",
        service_error_code="ThrottlingException",
        http_status_code=400,
    )

    with pytest.raises(model_client.ModelUnavailable, match="ThrottlingException"):
        model_client.invoke({"instances": [[1, 2, 3, 4]]})


def test_the_request_names_the_endpoint_and_sends_json(sagemaker: Stubber) -> None:
    payload = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    answer = {"predictions": [{"label": "setosa"}], "model_version": "v"}
    sagemaker.add_response(
        "invoke_endpoint",
        {
            "Body": _streaming(json.dumps(answer).encode()),
            "ContentType": "application/json",
        },
        expected_params={
            "EndpointName": "iris-endpoint",
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": json.dumps(payload).encode(),
        },
    )

    assert model_client.invoke(payload) == answer


def test_an_answer_that_is_not_json_is_transient(sagemaker: Stubber) -> None:
    sagemaker.add_response("invoke_endpoint", {"Body": _streaming(b"<html>502</html>")})

    with pytest.raises(model_client.ModelUnavailable, match="invalid JSON"):
        model_client.invoke({"instances": [[1, 2, 3, 4]]})


def _streaming(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))
