"""POST /v1/jobs: validate, store as pending, publish with routing attributes, answer 202."""

from __future__ import annotations

import json
import uuid

import pytest

from lambdas import contract
from lambdas.submit import handler as submit
from tests.lambdas.lambda_events import api_event, body_of

IRIS_JOB = {"model": "iris", "inputs": {"instances": [[5.1, 3.5, 1.4, 0.2]]}}


def test_an_accepted_job_gets_202_a_job_id_and_a_status_location(pipeline) -> None:
    response = submit.handler(api_event(IRIS_JOB), None)

    body = body_of(response)
    assert response["statusCode"] == 202
    assert str(uuid.UUID(body["job_id"])) == body["job_id"]
    assert body["status"] == "pending"
    assert body["status_url"] == f"/v1/jobs/{body['job_id']}"
    assert response["headers"]["location"] == body["status_url"]


def test_the_request_is_stored_as_pending_before_it_is_announced(pipeline) -> None:
    job_id = body_of(submit.handler(api_event(IRIS_JOB), None))["job_id"]

    stored = pipeline.read_json(contract.request_key(job_id))
    assert stored["status"] == "pending"
    assert stored["inputs"] == IRIS_JOB["inputs"]
    assert stored["priority"] == "normal"


def test_the_job_reaches_the_work_queue_raw_with_model_and_priority_attributes(
    pipeline,
) -> None:
    job = {**IRIS_JOB, "priority": "high"}
    job_id = body_of(submit.handler(api_event(job), None))["job_id"]

    [message] = pipeline.receive(pipeline.work_queue)

    assert json.loads(message["Body"]) == {"job_id": job_id, **job}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {"model": "iris", "priority": "high"}


def test_a_base64_encoded_body_is_decoded(pipeline) -> None:
    response = submit.handler(api_event(IRIS_JOB, base64_encoded=True), None)

    assert response["statusCode"] == 202


@pytest.mark.parametrize(
    ("event_body", "field", "words"),
    [
        ("{not json", None, "not valid JSON"),
        ("[1, 2]", None, "JSON object"),
        ("", None, "empty"),
        (json.dumps({**IRIS_JOB, "model": "Iris!"}), "model", "a-z"),
        (json.dumps({**IRIS_JOB, "model": "x" * 65}), "model", "1-64"),
        (json.dumps({"inputs": IRIS_JOB["inputs"]}), "model", "model"),
        (json.dumps({"model": "iris"}), "inputs", "inputs"),
        (
            json.dumps({"model": "iris", "inputs": {"instances": []}}),
            "inputs.instances",
            "non-empty",
        ),
        (json.dumps({**IRIS_JOB, "priority": "urgent"}), "priority", "high, normal"),
        (json.dumps({**IRIS_JOB, "callback": "http://x"}), "callback", "unknown field"),
    ],
)
def test_bad_submissions_are_400_naming_the_field(pipeline, event_body: str, field: str | None, words: str) -> None:
    response = submit.handler(api_event(raw_body=event_body), None)

    body = body_of(response)
    assert response["statusCode"] == 400
    assert body["field"] == field
    assert words in body["error"]
    assert pipeline.keys("requests/") == []


def test_a_body_over_the_payload_limit_is_413_and_nothing_is_stored(pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.MAX_PAYLOAD_BYTES, "1024")
    big_job = {"model": "iris", "inputs": {"instances": [[5.1, 3.5, 1.4, 0.2]] * 100}}

    plain = submit.handler(api_event(big_job), None)
    encoded = submit.handler(api_event(big_job, base64_encoded=True), None)

    assert plain["statusCode"] == encoded["statusCode"] == 413
    assert "1024 bytes" in body_of(plain)["error"]
    assert pipeline.keys("requests/") == []
    assert pipeline.count(pipeline.work_queue) == 0


def test_inputs_too_large_for_a_message_travel_by_reference_to_the_stored_request(
    pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submit, "INLINE_INPUTS_LIMIT", 10)
    job_id = body_of(submit.handler(api_event(IRIS_JOB), None))["job_id"]

    [message] = pipeline.receive(pipeline.work_queue)

    body = json.loads(message["Body"])
    assert "inputs" not in body
    assert body["request_key"] == contract.request_key(job_id)
    assert pipeline.read_json(body["request_key"])["inputs"] == IRIS_JOB["inputs"]


def test_when_the_job_cannot_be_announced_the_client_gets_503_and_no_orphan_is_left(
    pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(contract.REQUESTS_TOPIC_ARN, pipeline.requests_topic + "-missing")

    response = submit.handler(api_event(IRIS_JOB), None)

    assert response["statusCode"] == 503
    assert pipeline.keys("requests/") == []
