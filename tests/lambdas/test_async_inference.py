"""Asynchronous SageMaker inference: the hand-off (input to S3, InvokeEndpointAsync) by the job library, and the
translation of SageMaker's notifications into the pipeline's results contract by the async_results function."""

from __future__ import annotations

import json
import uuid

import pytest

from lambdas import contract, jobs
from lambdas.async_results import handler as async_results
from lambdas.status import handler as status
from lambdas.submit import handler as submit
from lambdas.worker import handler as worker
from tests.lambdas.lambda_events import api_event, body_of, sqs_event
from tools.local.async_endpoint import AsyncEndpointStandIn

SETOSA, VIRGINICA = [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]
ENDPOINT = "iris-async"


@pytest.fixture
def async_endpoint(pipeline, http_model, monkeypatch: pytest.MonkeyPatch) -> str:
    """The consumers' environment for an asynchronous endpoint (moto answers InvokeEndpointAsync for any name),
    set after http_model's (the stand-in's model server), which it overrides."""
    monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_SAGEMAKER_ASYNC)
    monkeypatch.setenv(contract.ENDPOINT_NAME, ENDPOINT)
    return ENDPOINT


@pytest.fixture
def stand_in(pipeline, http_model) -> AsyncEndpointStandIn:
    """SageMaker's side of the endpoint (moto runs no model), publishing to a notifications queue of its own."""
    topic = pipeline.sns.create_topic(Name=f"async-notifications-{uuid.uuid4().hex[:8]}")["TopicArn"]
    return AsyncEndpointStandIn(s3=pipeline.s3, sns=pipeline.sns, bucket=pipeline.bucket, topic_arn=topic,
                                model_url=http_model.url, endpoint_name=ENDPOINT, region="us-east-1")


def record(body: str, message_id: str = "m-1") -> dict:
    return {"MessageId": message_id, "ReceiptHandle": "handle", "Body": body,
            "Attributes": {"ApproximateReceiveCount": "1"}}


def job(**overrides) -> dict:
    return {"job_id": str(uuid.uuid4()), "model": "iris", "priority": "high", "inputs": {"instances": [SETOSA]},
            **overrides}


def notification(job_id: str, bucket: str, *, status_: str = "Completed", **changes) -> dict:
    document = {"eventSource": "aws:sagemaker", "eventName": "InferenceResult", "eventVersion": "1.0",
                "invocationStatus": status_, "inferenceId": job_id,
                "requestParameters": {"endpointName": ENDPOINT,
                                      "inputLocation": f"s3://{bucket}/{contract.async_input_key(job_id)}"}}
    if status_ == "Completed":
        document["responseParameters"] = {"outputLocation": f"s3://{bucket}/async/output/{uuid.uuid4()}.out"}
    else:
        document["failureReason"] = "ClientError: Received server error (500) from model"
    return document | changes


# --- the hand-off ----------------------------------------------------------------------------------------------


def test_an_async_endpoint_gets_the_job_as_an_s3_input_and_the_message_is_acknowledged(
    pipeline, async_endpoint, http_model
) -> None:
    handed = job()

    outcome = worker.handler(sqs_event([record(json.dumps(handed))]), None)

    assert outcome == {"batchItemFailures": []}
    stored = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=contract.async_input_key(handed["job_id"]))
    assert json.loads(stored["Body"].read()) == {"instances": [SETOSA]}
    assert stored["Metadata"] == {"job-id": handed["job_id"], "model": "iris", "priority": "high"}
    assert pipeline.keys("results/") == [], "the result arrives later, through the notification"
    assert http_model.invocations == 0, "the endpoint runs the model, not the consumer"


def test_a_job_too_large_for_the_model_is_a_final_failed_result_in_async_mode_too(
    pipeline, async_endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(contract.MAX_PAYLOAD_BYTES, "10")
    handed = job()

    outcome = worker.handler(sqs_event([record(json.dumps(handed))]), None)

    assert outcome == {"batchItemFailures": []}
    result = pipeline.read_json(contract.result_key(handed["job_id"]))
    assert result["status"] == "failed" and "over the limit of 10 bytes" in result["error"]
    assert pipeline.keys("async/") == []


def test_the_async_backend_answers_no_direct_call() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(contract.MODEL_BACKEND, contract.BACKEND_SAGEMAKER_ASYNC)
        with pytest.raises(RuntimeError, match="use hand_off"):
            jobs.model_client.invoke({"instances": [SETOSA]})


# --- the translation ----------------------------------------------------------------------------------------


def test_a_success_notification_becomes_the_result_document_and_a_results_topic_notice(
    pipeline, async_endpoint, stand_in
) -> None:
    handed = job()
    worker.handler(sqs_event([record(json.dumps(handed))]), None)
    [input_key] = stand_in.pending_inputs()
    sent = stand_in.process(input_key)

    outcome = async_results.handler(sqs_event([record(json.dumps(sent))]), None)

    assert outcome == {"batchItemFailures": []}
    result = pipeline.read_json(contract.result_key(handed["job_id"]))
    assert (result["job_id"], result["model"], result["priority"], result["status"]) == (
        handed["job_id"], "iris", "high", "succeeded")
    assert [p["label"] for p in result["result"]["predictions"]] == ["setosa"]
    [notice] = pipeline.receive(pipeline.notifications_queue)
    assert json.loads(notice["Body"]) == {"job_id": handed["job_id"], "status": "succeeded",
                                          "result_key": contract.result_key(handed["job_id"])}
    assert notice["MessageAttributes"]["model"]["StringValue"] == "iris"
    assert stand_in.pending_inputs() == []


def test_an_error_notification_becomes_a_failed_result_with_sagemakers_reason(pipeline, async_endpoint) -> None:
    handed = job()
    worker.handler(sqs_event([record(json.dumps(handed))]), None)
    failed = notification(handed["job_id"], pipeline.bucket, status_="Failed")

    outcome = async_results.handler(sqs_event([record(json.dumps(failed))]), None)

    assert outcome == {"batchItemFailures": []}
    result = pipeline.read_json(contract.result_key(handed["job_id"]))
    assert result["status"] == "failed" and "server error (500)" in result["error"]
    [notice] = pipeline.receive(pipeline.notifications_queue)
    assert notice["MessageAttributes"]["status"]["StringValue"] == "failed"


def test_a_duplicate_notification_gives_one_result_and_one_notice(pipeline, async_endpoint, stand_in) -> None:
    handed = job()
    worker.handler(sqs_event([record(json.dumps(handed))]), None)
    sent = stand_in.process(contract.async_input_key(handed["job_id"]))

    twice = async_results.handler(sqs_event([record(json.dumps(sent), "a"), record(json.dumps(sent), "b")]), None)

    assert twice == {"batchItemFailures": []}
    assert pipeline.keys("results/") == [contract.result_key(handed["job_id"])]
    assert len(pipeline.receive(pipeline.notifications_queue)) == 1


def test_when_the_notice_cannot_be_sent_the_result_is_withdrawn_so_the_retry_redoes_both(
    pipeline, async_endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(contract.RESULTS_TOPIC_ARN, pipeline.results_topic + "-missing")
    failed = notification(str(uuid.uuid4()), pipeline.bucket, status_="Failed")

    outcome = async_results.handler(sqs_event([record(json.dumps(failed))]), None)

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert pipeline.keys("results/") == []


def test_a_result_without_its_input_metadata_still_answers_with_the_job_id(pipeline, async_endpoint) -> None:
    job_id = str(uuid.uuid4())
    failed = notification(job_id, pipeline.bucket, status_="Failed")

    outcome = async_results.handler(sqs_event([record(json.dumps(failed))]), None)

    assert outcome == {"batchItemFailures": []}
    result = pipeline.read_json(contract.result_key(job_id))
    assert (result["job_id"], result["model"], result["status"]) == (job_id, None, "failed")


@pytest.mark.parametrize("change", [
    {"eventSource": "aws:s3"},
    {"inferenceId": "not-a-uuid"},
    {"requestParameters": {"inputLocation": "s3://elsewhere/async/input/x.json"}},
    {"responseParameters": {"outputLocation": "s3://BUCKET/results/private.json"}},
    {"responseParameters": {"outputLocation": "s3://BUCKET/async/output/../../results/private.json"}},
    {"invocationStatus": "InProgress"},
], ids=["not-sagemaker", "not-a-job-id", "foreign-input", "output-outside-prefix", "output-escaping-prefix",
        "unknown-status"])
def test_a_notification_that_is_not_about_one_of_our_jobs_is_refused_without_reading_anything(
    pipeline, async_endpoint, change: dict
) -> None:
    job_id = str(uuid.uuid4())
    text = json.dumps(notification(job_id, pipeline.bucket) | change).replace("BUCKET", pipeline.bucket)

    outcome = async_results.handler(sqs_event([record(text, "m-x"), record("{not json", "m-y")]), None)

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "m-x"}, {"itemIdentifier": "m-y"}]}
    assert pipeline.keys("results/") == []


# --- the whole asynchronous path -------------------------------------------------------------------------------


def test_a_submitted_job_reaches_its_result_through_the_async_endpoint_and_status_answers_alike(
    pipeline, async_endpoint, stand_in
) -> None:
    accepted = submit.handler(api_event({"model": "iris", "inputs": {"instances": [SETOSA, VIRGINICA]}}), None)
    job_id = body_of(accepted)["job_id"]
    worker.handler(sqs_event(pipeline.receive(pipeline.work_queue)), None)
    pending = status.handler(api_event(method="GET", path=f"/v1/jobs/{job_id}", path_parameters={"id": job_id}), None)
    assert pending["statusCode"] == 202

    sent = stand_in.process(contract.async_input_key(job_id))
    async_results.handler(sqs_event([record(json.dumps(sent))]), None)

    answer = status.handler(api_event(method="GET", path=f"/v1/jobs/{job_id}", path_parameters={"id": job_id}), None)
    assert answer["statusCode"] == 200
    assert [p["label"] for p in body_of(answer)["result"]["predictions"]] == ["setosa", "virginica"]

