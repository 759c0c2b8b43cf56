"""The asynchronous path end to end, in the emulator:
submit -> SNS requests topic -> filtered raw subscription -> SQS -> worker -> model over HTTP
-> S3 result -> SNS results topic -> subscriber queue; and status answering from S3 throughout."""

from __future__ import annotations

import json

from lambdas import contract
from lambdas.status import handler as status
from lambdas.submit import handler as submit
from lambdas.worker import handler as worker
from tests.lambdas.lambda_events import api_event, body_of, sqs_event

SETOSA, VIRGINICA = [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]


def job_status(job_id: str) -> dict:
    return status.handler(
        api_event(method="GET", path=f"/v1/jobs/{job_id}", path_parameters={"id": job_id}),
        None,
    )


def test_a_submitted_job_flows_through_the_queue_and_model_to_a_stored_and_announced_result(
    pipeline, http_model
) -> None:
    accepted = submit.handler(api_event({"model": "iris", "inputs": {"instances": [SETOSA, VIRGINICA]}}), None)
    job_id = body_of(accepted)["job_id"]
    assert job_status(job_id)["statusCode"] == 202

    messages = pipeline.receive(pipeline.work_queue)
    outcome = worker.handler(sqs_event(messages), None)

    assert outcome == {"batchItemFailures": []}
    result = pipeline.read_json(contract.result_key(job_id))
    assert result["status"] == "succeeded"
    labels = [p["label"] for p in result["result"]["predictions"]]
    assert labels == ["setosa", "virginica"]
    [notification] = pipeline.receive(pipeline.notifications_queue)
    assert json.loads(notification["Body"]) == {
        "job_id": job_id,
        "status": "succeeded",
        "result_key": f"results/{job_id}.json",
    }
    assert notification["MessageAttributes"]["status"]["StringValue"] == "succeeded"
    final = job_status(job_id)
    assert final["statusCode"] == 200
    assert body_of(final)["result"]["predictions"][0]["label"] == "setosa"


def test_the_filter_policy_keeps_other_models_jobs_out_of_the_iris_queue(
    pipeline,
) -> None:
    accepted = submit.handler(api_event({"model": "other-model", "inputs": {"instances": [SETOSA]}}), None)

    assert accepted["statusCode"] == 202
    assert pipeline.receive(pipeline.work_queue) == []


def test_a_poison_message_reaches_the_dead_letter_queue_after_max_receive_count_receives(pipeline, http_model) -> None:
    pipeline.sns.publish(
        TopicArn=pipeline.requests_topic,
        Message="{this is not a job",
        MessageAttributes={"model": {"DataType": "String", "StringValue": "iris"}},
    )
    handled_receive_counts: list[str] = []

    for _ in range(10):  # bounded: the redrive policy must end this long before
        messages = pipeline.receive(pipeline.work_queue)
        if not messages:
            break
        outcome = worker.handler(sqs_event(messages), None)
        failed = {failure["itemIdentifier"] for failure in outcome["batchItemFailures"]}
        handled_receive_counts += [m["Attributes"]["ApproximateReceiveCount"] for m in messages]
        for message in messages:
            if message["MessageId"] not in failed:
                pipeline.sqs.delete_message(QueueUrl=pipeline.work_queue, ReceiptHandle=message["ReceiptHandle"])

    assert handled_receive_counts == ["1", "2"]
    [dead] = pipeline.receive(pipeline.dead_letter_queue)
    assert dead["Body"] == "{this is not a job"
    assert pipeline.count(pipeline.work_queue) == 0
    assert pipeline.keys("results/") == []


def test_a_duplicate_delivery_produces_one_result_one_notification_and_one_model_call(pipeline, http_model) -> None:
    body_of(submit.handler(api_event({"model": "iris", "inputs": {"instances": [SETOSA]}}), None))
    messages = pipeline.receive(pipeline.work_queue)
    calls_before = http_model.invocations

    first = worker.handler(sqs_event(messages), None)
    second = worker.handler(sqs_event(messages), None)

    assert first == second == {"batchItemFailures": []}
    assert len(pipeline.keys("results/")) == 1
    assert len(pipeline.receive(pipeline.notifications_queue)) == 1
    assert pipeline.receive(pipeline.notifications_queue) == []
    assert http_model.invocations - calls_before == 1
