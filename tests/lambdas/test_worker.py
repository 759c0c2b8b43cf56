"""The worker's per-record rules: which failures are retried, which are final, and idempotency."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from lambdas import contract, model_client
from lambdas.worker import handler as worker
from tests.lambdas.lambda_events import sqs_event

SETOSA = [5.1, 3.5, 1.4, 0.2]


def record(body: str, message_id: str | None = None) -> dict:
    return {
        "MessageId": message_id or str(uuid.uuid4()),
        "ReceiptHandle": "handle",
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": "1"},
    }


def job(instances: list | None = None, **overrides) -> dict:
    return {
        "job_id": str(uuid.uuid4()),
        "model": "iris",
        "priority": "normal",
        "inputs": {"instances": instances or [SETOSA]},
        **overrides,
    }


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[1, 2, 3]",
        json.dumps({"model": "iris", "inputs": {"instances": [SETOSA]}}),
        json.dumps(job(job_id="not-a-uuid")),
        json.dumps({"job_id": str(uuid.uuid4()), "model": "iris"}),
        json.dumps(
            {
                "job_id": str(uuid.uuid4()),
                "model": "iris",
                "request_key": "requests/other.json",
            }
        ),
    ],
    ids=[
        "not-json",
        "not-object",
        "no-job-id",
        "bad-job-id",
        "no-inputs",
        "foreign-request-key",
    ],
)
def test_a_malformed_message_is_reported_as_a_batch_item_failure(
    pipeline, http_model, body: str
) -> None:
    outcome = worker.handler(sqs_event([record(body, "m-1")]), None)

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert pipeline.keys("results/") == []


def test_only_the_failed_records_of_a_batch_are_reported(pipeline, http_model) -> None:
    good = job()
    batch = [record(json.dumps(good), "good"), record("{bad", "bad")]

    outcome = worker.handler(sqs_event(batch), None)

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert pipeline.keys("results/") == [f"results/{good['job_id']}.json"]


def test_input_the_model_rejects_is_a_final_failed_result_not_a_retry(
    pipeline, http_model
) -> None:
    bad_rows = job(instances=[[1.0, 2.0, 3.0]])

    outcome = worker.handler(sqs_event([record(json.dumps(bad_rows))]), None)

    assert outcome == {"batchItemFailures": []}
    result = pipeline.read_json(contract.result_key(bad_rows["job_id"]))
    assert result["status"] == "failed"
    assert "has 3 features; expected 4" in result["error"]
    [notification] = pipeline.receive(pipeline.notifications_queue)
    assert json.loads(notification["Body"])["status"] == "failed"
    assert notification["MessageAttributes"]["status"]["StringValue"] == "failed"


def test_an_unreachable_model_is_retried_and_leaves_no_result(
    pipeline, unreachable_model
) -> None:
    outcome = worker.handler(sqs_event([record(json.dumps(job()), "m-1")]), None)

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert pipeline.keys("results/") == []
    assert pipeline.receive(pipeline.notifications_queue) == []


def test_a_job_whose_result_exists_is_acknowledged_without_calling_the_model(
    pipeline, unreachable_model
) -> None:
    done = job()
    key = contract.result_key(done["job_id"])
    pipeline.s3.put_object(
        Bucket=pipeline.bucket, Key=key, Body=b'{"status": "succeeded"}'
    )

    outcome = worker.handler(sqs_event([record(json.dumps(done))]), None)

    assert outcome == {"batchItemFailures": []}
    assert pipeline.read_json(key) == {"status": "succeeded"}
    assert pipeline.receive(pipeline.notifications_queue) == []


def test_a_result_written_concurrently_by_another_delivery_wins_and_no_second_notice_is_sent(
    pipeline, http_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    racing = job()
    key = contract.result_key(racing["job_id"])
    real_run_model = worker.run_model

    def run_model_while_another_delivery_finishes(*args):
        document = real_run_model(*args)
        pipeline.s3.put_object(
            Bucket=pipeline.bucket, Key=key, Body=b'{"winner": "other"}'
        )
        return document

    monkeypatch.setattr(worker, "run_model", run_model_while_another_delivery_finishes)

    outcome = worker.handler(sqs_event([record(json.dumps(racing))]), None)

    assert outcome == {"batchItemFailures": []}
    assert pipeline.read_json(key) == {"winner": "other"}
    assert pipeline.receive(pipeline.notifications_queue) == []


def test_when_the_notice_cannot_be_sent_the_result_is_withdrawn_so_the_retry_redoes_both(
    pipeline, http_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(contract.RESULTS_TOPIC_ARN, pipeline.results_topic + "-missing")

    outcome = worker.handler(sqs_event([record(json.dumps(job()), "m-1")]), None)

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert pipeline.keys("results/") == []


def test_a_large_job_reads_its_inputs_from_the_stored_request(
    pipeline, http_model
) -> None:
    job_id = str(uuid.uuid4())
    stored = {"job_id": job_id, "status": "pending", "inputs": {"instances": [SETOSA]}}
    pipeline.s3.put_object(
        Bucket=pipeline.bucket,
        Key=contract.request_key(job_id),
        Body=json.dumps(stored).encode(),
    )
    message = {"job_id": job_id, "model": "iris", "priority": "normal"}
    message["request_key"] = contract.request_key(job_id)

    outcome = worker.handler(sqs_event([record(json.dumps(message))]), None)

    assert outcome == {"batchItemFailures": []}
    result = pipeline.read_json(contract.result_key(job_id))
    assert result["result"]["predictions"][0]["label"] == "setosa"


def test_the_sagemaker_backend_calls_the_endpoint_named_in_the_environment(
    pipeline, aws_environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    canned = {
        "predictions": [{"label": "setosa", "probabilities": {}}],
        "model_version": "sm-1",
    }
    configure = urllib.request.Request(
        f"{aws_environment}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps({"results": [{"Body": json.dumps(canned)}]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(configure, timeout=10).close()
    monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_SAGEMAKER)
    monkeypatch.setenv(contract.ENDPOINT_NAME, "iris-endpoint")
    sagemaker_job = job()

    outcome = worker.handler(sqs_event([record(json.dumps(sagemaker_job))]), None)

    assert outcome == {"batchItemFailures": []}
    result = pipeline.read_json(contract.result_key(sagemaker_job["job_id"]))
    assert result["result"] == canned


def test_each_record_is_logged_as_one_json_line(
    pipeline, http_model, capsys: pytest.CaptureFixture[str]
) -> None:
    worker.handler(
        sqs_event([record(json.dumps(job()), "m-ok"), record("{", "m-bad")]), None
    )

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    by_message = {line["message_id"]: line for line in lines if "message_id" in line}
    assert by_message["m-ok"]["outcome"] == "written"
    assert by_message["m-bad"]["level"] == "ERROR"
    assert "MalformedJob" in by_message["m-bad"]["error"]


def test_model_client_errors_split_into_retryable_and_final() -> None:
    assert issubclass(model_client.ModelUnavailable, model_client.ModelError)
    assert issubclass(model_client.ModelInputRejected, model_client.ModelError)
    assert not issubclass(
        model_client.ModelInputRejected, model_client.ModelUnavailable
    )
