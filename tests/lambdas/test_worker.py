"""The worker's per-record rules: which failures are retried, which are final, and idempotency."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import boto3
import pytest

from lambdas import contract, jobs, model_client
from lambdas.worker import handler as worker
from tests.lambdas.lambda_events import sqs_event
from tests.lambdas.scripted_server import LambdaContext, scripted_server

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
def test_a_malformed_message_is_reported_as_a_batch_item_failure(pipeline, http_model, body: str) -> None:
    outcome = worker.handler(sqs_event([record(body, "m-1")]), None)

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert pipeline.keys("results/") == []


def test_only_the_failed_records_of_a_batch_are_reported(pipeline, http_model) -> None:
    good = job()
    batch = [record(json.dumps(good), "good"), record("{bad", "bad")]

    outcome = worker.handler(sqs_event(batch), None)

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert pipeline.keys("results/") == [f"results/{good['job_id']}.json"]


def test_input_the_model_rejects_is_a_final_failed_result_not_a_retry(pipeline, http_model) -> None:
    bad_rows = job(instances=[[1.0, 2.0, 3.0]])

    outcome = worker.handler(sqs_event([record(json.dumps(bad_rows))]), None)

    assert outcome == {"batchItemFailures": []}
    result = pipeline.read_json(contract.result_key(bad_rows["job_id"]))
    assert result["status"] == "failed"
    assert "has 3 features; expected 4" in result["error"]
    [notification] = pipeline.receive(pipeline.notifications_queue)
    assert json.loads(notification["Body"])["status"] == "failed"
    assert notification["MessageAttributes"]["status"]["StringValue"] == "failed"


def test_an_unreachable_model_is_retried_and_leaves_no_result(pipeline, unreachable_model) -> None:
    outcome = worker.handler(sqs_event([record(json.dumps(job()), "m-1")]), None)

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert pipeline.keys("results/") == []
    assert pipeline.receive(pipeline.notifications_queue) == []


def test_a_job_whose_result_exists_is_acknowledged_without_calling_the_model(pipeline, unreachable_model) -> None:
    done = job()
    key = contract.result_key(done["job_id"])
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=b'{"status": "succeeded"}')

    outcome = worker.handler(sqs_event([record(json.dumps(done))]), None)

    assert outcome == {"batchItemFailures": []}
    assert pipeline.read_json(key) == {"status": "succeeded"}
    assert pipeline.receive(pipeline.notifications_queue) == []


def test_a_result_written_concurrently_by_another_delivery_wins_and_no_second_notice_is_sent(
    pipeline, http_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    racing = job()
    key = contract.result_key(racing["job_id"])
    real_run_model = jobs.run_model

    def run_model_while_another_delivery_finishes(*args):
        document = real_run_model(*args)
        pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=b'{"winner": "other"}')
        return document

    monkeypatch.setattr(jobs, "run_model", run_model_while_another_delivery_finishes)

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


def test_a_large_job_reads_its_inputs_from_the_stored_request(pipeline, http_model) -> None:
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
    pipeline, sagemaker_model: dict[str, Any]
) -> None:
    sagemaker_job = job()

    outcome = worker.handler(sqs_event([record(json.dumps(sagemaker_job))]), None)

    assert outcome == {"batchItemFailures": []}
    result = pipeline.read_json(contract.result_key(sagemaker_job["job_id"]))
    assert result["result"] == sagemaker_model


def test_each_record_is_logged_as_one_json_line(pipeline, http_model, capsys: pytest.CaptureFixture[str]) -> None:
    worker.handler(sqs_event([record(json.dumps(job()), "m-ok"), record("{", "m-bad")]), None)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    by_message = {line["message_id"]: line for line in lines if "message_id" in line}
    assert by_message["m-ok"]["outcome"] == "written"
    assert by_message["m-bad"]["level"] == "ERROR"
    assert "MalformedJob" in by_message["m-bad"]["error"]


def test_model_client_errors_split_into_retryable_and_final() -> None:
    assert issubclass(model_client.ModelUnavailable, model_client.ModelError)
    assert issubclass(model_client.ModelInputRejected, model_client.ModelError)
    assert not issubclass(model_client.ModelInputRejected, model_client.ModelUnavailable)


# --- a missing result is 404 only with s3:ListBucket; a 403 is never "absent" (issue 11, defect 1) ----------


@pytest.fixture
def worker_without_result_reads(pipeline, aws_environment: str, monkeypatch: pytest.MonkeyPatch):
    """The worker's S3 calls made as an IAM user that may not read results/, with moto enforcing IAM.

    Moto answers 404 for a missing key whatever the grants (it does not apply S3's ListBucket rule), so the
    403 that AWS gives a role without s3:ListBucket is produced the way moto can: by a denied HeadObject.
    """
    iam = boto3.client("iam")
    iam.create_user(UserName="worker")
    iam.put_user_policy(
        UserName="worker",
        PolicyName="no-result-reads",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{pipeline.bucket}/{contract.REQUESTS_PREFIX}*",
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="worker")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    jobs.s3.cache_clear()
    _enforce_iam(aws_environment, "0")
    try:
        yield
    finally:
        _enforce_iam(aws_environment, "inf")
        jobs.s3.cache_clear()


def _enforce_iam(moto_endpoint: str, after_requests: str) -> None:
    urllib.request.urlopen(
        urllib.request.Request(
            f"{moto_endpoint}/moto-api/reset-auth",
            data=after_requests.encode(),
            headers={"Content-Type": "text/plain"},  # werkzeug reads a form body as form fields, not data
            method="POST",
        ),
        timeout=10,
    ).close()


@pytest.mark.simulated_denial
def test_a_403_on_the_result_lookup_is_a_failure_not_an_absent_result(
    pipeline, http_model, worker_without_result_reads
) -> None:
    """GIVEN S3 answers 403 to HeadObject on results/<id>.json WHEN the worker checks for a result THEN the
    record fails (and is retried, then dead-lettered) without calling the model: a 403 means a broken grant,
    and treating it as "absent" would hide it."""
    calls_before = http_model.invocations

    outcome = worker.handler(sqs_event([record(json.dumps(job()), "m-1")]), None)

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert http_model.invocations == calls_before


@pytest.mark.simulated_denial
def test_result_exists_raises_on_access_denied(pipeline, worker_without_result_reads) -> None:
    with pytest.raises(jobs.ClientError) as denied:
        jobs.result_exists(pipeline.bucket, contract.result_key(str(uuid.uuid4())))

    assert denied.value.response["Error"]["Code"] in ("403", "AccessDenied", "Forbidden")


def test_result_exists_answers_false_for_a_missing_key(pipeline) -> None:
    assert jobs.result_exists(pipeline.bucket, contract.result_key(str(uuid.uuid4()))) is False


# --- time budget: never start a job the invocation cannot finish (issue 11, defect 5) -----------------------


def test_records_are_handed_back_unstarted_when_the_invocation_cannot_fit_one_more_job(
    pipeline, http_model, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN 5 s left and a 10 s model timeout (+2 s per job) WHEN a batch arrives THEN no job starts and every
    record is reported for redelivery, instead of the function timing out and losing the whole batch."""
    monkeypatch.setenv(contract.MODEL_TIMEOUT_SECONDS, "10")
    calls_before = http_model.invocations
    batch = [record(json.dumps(job()), f"m-{i}") for i in range(3)]

    outcome = worker.handler(sqs_event(batch), LambdaContext(remaining_ms=5_000))

    assert outcome == {"batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in range(3)]}
    assert http_model.invocations == calls_before
    assert pipeline.keys("results/") == []
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    deferred = [line for line in lines if line["message"].startswith("record deferred")]
    assert [line["message_id"] for line in deferred] == ["m-0", "m-1", "m-2"]
    assert deferred[0]["job_seconds"] == 12


def test_the_worker_stops_starting_jobs_once_the_time_left_cannot_fit_one(
    pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a model answering in 0.6 s, a 1 s model timeout (3 s per job) and 3.5 s left WHEN 3 jobs arrive
    THEN the first is done and the other two are handed back for redelivery."""
    answer = {"predictions": [{"label": "setosa"}], "model_version": "slow-1"}
    with scripted_server(delay_seconds=0.6, body=json.dumps(answer).encode()) as model:
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
        monkeypatch.setenv(contract.MODEL_URL, model.url)
        monkeypatch.setenv(contract.MODEL_TIMEOUT_SECONDS, "1")
        jobs = [job() for _ in range(3)]
        batch = [record(json.dumps(j), f"m-{i}") for i, j in enumerate(jobs)]

        outcome = worker.handler(sqs_event(batch), LambdaContext(remaining_ms=3_500))

    assert outcome == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}
    assert model.requests == 1
    assert pipeline.keys("results/") == [contract.result_key(jobs[0]["job_id"])]


def test_the_model_call_keeps_the_jobs_own_overhead_inside_the_invocation(
    pipeline, http_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    budgets: list[float] = []
    real_invoke = model_client.invoke

    def recording_invoke(payload: dict[str, Any], deadline: Any = model_client.NO_DEADLINE) -> dict[str, Any]:
        budgets.append(deadline.remaining())
        return real_invoke(payload, deadline)

    monkeypatch.setattr(model_client, "invoke", recording_invoke)
    monkeypatch.setenv(contract.MODEL_TIMEOUT_SECONDS, "10")

    outcome = worker.handler(sqs_event([record(json.dumps(job()))]), LambdaContext(remaining_ms=30_000))

    assert outcome == {"batchItemFailures": []}
    [budget] = budgets
    assert 27.0 < budget <= 30.0 - contract.JOB_OVERHEAD_SECONDS


def test_the_worker_makes_no_sdk_retries_on_s3_or_sns() -> None:
    for client in (jobs.s3(), jobs.sns()):
        assert client.meta.config.retries["total_max_attempts"] == 1
        assert client.meta.config.read_timeout <= 5
