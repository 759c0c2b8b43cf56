"""How model failures are classified: rejected input is final, everything else is worth a retry."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lambdas import contract, model_client
from lambdas.deadline import Deadline
from tests.lambdas.scripted_server import scripted_server


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
    model_error(sagemaker, 400, json.dumps({"error": "instances[0] has 3 features; expected 4"}))

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
            "Body": json.dumps(payload, separators=(",", ":")).encode(),
        },
    )

    assert model_client.invoke(payload) == answer


def test_an_answer_that_is_not_json_is_transient(sagemaker: Stubber) -> None:
    sagemaker.add_response("invoke_endpoint", {"Body": _streaming(b"<html>502</html>")})

    with pytest.raises(model_client.ModelUnavailable, match="invalid JSON"):
        model_client.invoke({"instances": [[1, 2, 3, 4]]})


def _streaming(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


# --- time budget and payload limit (issue 11, defects 5 and 6) ---------------------------------------------


@pytest.fixture
def fresh_sagemaker_clients() -> Iterator[None]:
    """Clients are cached per execution environment; a test that points them elsewhere starts and ends clean."""
    model_client.sagemaker_runtime.cache_clear()
    yield
    model_client.sagemaker_runtime.cache_clear()


def test_the_sagemaker_client_makes_one_attempt_bounded_by_the_configured_model_timeout(
    monkeypatch: pytest.MonkeyPatch, fresh_sagemaker_clients: None
) -> None:
    monkeypatch.setenv(contract.MODEL_TIMEOUT_SECONDS, "7")

    config = model_client.sagemaker_runtime().meta.config

    assert config.retries["total_max_attempts"] == 1
    assert config.read_timeout == 7


def test_a_failing_endpoint_is_called_once_not_retried_by_the_sdk(
    monkeypatch: pytest.MonkeyPatch, fresh_sagemaker_clients: None
) -> None:
    """GIVEN a SageMaker runtime answering 503 WHEN the worker's model call fails THEN the SDK did not retry:
    SQS redelivery is the retry, and an SDK retry would spend the time the rest of the batch needs."""
    with scripted_server(status=503, body=b'{"message": "busy"}') as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_SAGEMAKER)
        monkeypatch.setenv(contract.ENDPOINT_NAME, "iris-endpoint")

        with pytest.raises(model_client.ModelUnavailable):
            model_client.invoke({"instances": [[1, 2, 3, 4]]})

    assert endpoint.requests == 1


def test_a_slow_endpoint_times_out_at_the_model_timeout(
    monkeypatch: pytest.MonkeyPatch, fresh_sagemaker_clients: None
) -> None:
    with scripted_server(delay_seconds=3) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_SAGEMAKER)
        monkeypatch.setenv(contract.ENDPOINT_NAME, "iris-endpoint")
        monkeypatch.setenv(contract.MODEL_TIMEOUT_SECONDS, "1")
        started = time.monotonic()

        with pytest.raises(model_client.ModelTimeout, match="within 1.0 s"):
            model_client.invoke({"instances": [[1, 2, 3, 4]]})

    assert time.monotonic() - started < 2.5
    assert endpoint.requests == 1


def test_a_slow_http_model_times_out_at_the_model_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    with scripted_server(delay_seconds=3) as model:
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
        monkeypatch.setenv(contract.MODEL_URL, model.url)
        monkeypatch.setenv(contract.MODEL_TIMEOUT_SECONDS, "1")
        started = time.monotonic()

        with pytest.raises(model_client.ModelTimeout):
            model_client.invoke({"instances": [[1, 2, 3, 4]]})

    assert time.monotonic() - started < 2.5


def test_the_deadline_cuts_the_budget_below_the_model_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    with scripted_server(delay_seconds=3) as model:
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
        monkeypatch.setenv(contract.MODEL_URL, model.url)
        monkeypatch.setenv(contract.MODEL_TIMEOUT_SECONDS, "20")
        started = time.monotonic()

        with pytest.raises(model_client.ModelTimeout) as timeout:
            model_client.invoke({"instances": [[1, 2, 3, 4]]}, Deadline.after(1.0))

    assert timeout.value.budget_seconds <= 1.0
    assert time.monotonic() - started < 2.5


def test_no_call_starts_when_the_deadline_leaves_too_little_time(monkeypatch: pytest.MonkeyPatch) -> None:
    with scripted_server() as model:
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
        monkeypatch.setenv(contract.MODEL_URL, model.url)

        with pytest.raises(model_client.ModelTimeout, match="no time left"):
            model_client.invoke({"instances": [[1, 2, 3, 4]]}, Deadline.after(0.1))

    assert model.requests == 0


def test_a_body_over_the_payload_limit_is_refused_before_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit synth derived from the model's own (MAX_PAYLOAD_BYTES) holds for the body actually sent."""
    with scripted_server() as model:
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
        monkeypatch.setenv(contract.MODEL_URL, model.url)
        monkeypatch.setenv(contract.MAX_PAYLOAD_BYTES, "64")

        with pytest.raises(model_client.PayloadTooLarge, match="over the limit of 64 bytes"):
            model_client.invoke({"instances": [[5.1, 3.5, 1.4, 0.2]] * 5})

    assert model.requests == 0
    assert issubclass(model_client.PayloadTooLarge, model_client.ModelInputRejected)
