"""POST /v1/predict against a SageMaker endpoint (moto's canned answer): the endpoint named in ENDPOINT_NAME is
called. Besides the behaviour, this run records predict's sagemaker-runtime call for the access gate (the other
predict tests use the HTTP backend)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from lambdas import contract
from lambdas.predict import handler as predict
from tests.lambdas.lambda_events import api_event, body_of

SETOSA = [5.1, 3.5, 1.4, 0.2]


def test_the_sagemaker_backend_answers_with_the_endpoints_predictions(
    aws_environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    canned = {"predictions": [{"label": "setosa", "probabilities": {}}], "model_version": "sm-1"}
    configure = urllib.request.Request(
        f"{aws_environment}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps({"results": [{"Body": json.dumps(canned)}]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(configure, timeout=10).close()
    monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_SAGEMAKER)
    monkeypatch.setenv(contract.ENDPOINT_NAME, "iris-endpoint")

    response = predict.handler(api_event({"instances": [SETOSA]}), None)

    assert response["statusCode"] == 200
    assert body_of(response) == canned
