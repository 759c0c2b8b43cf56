"""POST /v1/predict against a SageMaker endpoint (moto's canned answer): the endpoint named in ENDPOINT_NAME is
called. Besides the behaviour, this run records predict's sagemaker-runtime call for the access gate (the other
predict tests use the HTTP backend)."""

from __future__ import annotations

from typing import Any

from lambdas.predict import handler as predict
from tests.lambdas.lambda_events import api_event, body_of

SETOSA = [5.1, 3.5, 1.4, 0.2]


def test_the_sagemaker_backend_answers_with_the_endpoints_predictions(sagemaker_model: dict[str, Any]) -> None:
    response = predict.handler(api_event({"instances": [SETOSA]}), None)

    assert response["statusCode"] == 200
    assert body_of(response) == sagemaker_model
