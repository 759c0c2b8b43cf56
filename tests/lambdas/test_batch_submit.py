"""POST /v1/batches: plan the parts, store the manifest, submit the AWS Batch job; upload URLs; clear 4xx."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from lambdas import contract
from lambdas.batch_submit import handler as batch_submit
from tests.lambdas.lambda_events import api_event, body_of

RECORD = json.dumps({"id": "r-1", "features": [5.1, 3.5, 1.4, 0.2]})


def post(body) -> dict:
    return batch_submit.handler(api_event(body, path="/v1/batches"), None)


def inputs_prefix() -> str:
    return f"{contract.BATCH_INPUTS_PREFIX}{uuid.uuid4()}/"


def test_a_prefix_is_planned_into_parts_and_submitted_as_one_array_job(batch_resources) -> None:
    prefix = inputs_prefix()
    batch_resources.put_lines(f"{prefix}part-00000.jsonl", [RECORD] * 50)  # 2.4 kB: three parts of 1000 bytes
    batch_resources.put_lines(f"{prefix}part-00001.jsonl", [RECORD] * 10)

    response = post({"input": f"s3://{batch_resources.bucket}/{prefix}"})

    body = body_of(response)
    assert response["statusCode"] == 202 and response["headers"]["location"] == f"/v1/batches/{body['batch_id']}"
    assert (body["parts"], body["array_size"], body["state"]) == (4, 4, "submitted")
    assert body["output"] == f"s3://{batch_resources.bucket}/{contract.batch_results_prefix(body['batch_id'])}"
    manifest = batch_resources.read_json(contract.batch_request_key(body["batch_id"]))
    assert [(part["key"].rsplit("/", 1)[1], part["start"]) for part in manifest["parts"]] == [
        ("part-00000.jsonl", 0),
        ("part-00000.jsonl", 1000),
        ("part-00000.jsonl", 2000),
        ("part-00001.jsonl", 0),
    ]
    job = batch_resources.job(manifest["job_id"])
    assert job["jobName"] == f"batch-{body['batch_id']}" and job["arrayProperties"]["size"] == 4
    assert job["parameters"] == {
        "batch_id": body["batch_id"],
        "manifest": f"s3://{batch_resources.bucket}/{contract.batch_request_key(body['batch_id'])}",
    }


def test_one_object_is_scored_alone_and_a_single_part_is_a_plain_job(batch_resources) -> None:
    prefix = inputs_prefix()
    batch_resources.put_lines(f"{prefix}night.jsonl", [RECORD])
    batch_resources.put_lines(f"{prefix}night.jsonl.bak", [RECORD] * 40)  # same prefix, another object

    body = body_of(post({"input": f"s3://{batch_resources.bucket}/{prefix}night.jsonl"}))

    manifest = batch_resources.read_json(contract.batch_request_key(body["batch_id"]))
    assert [part["key"] for part in manifest["parts"]] == [f"{prefix}night.jsonl"]
    assert "arrayProperties" not in batch_resources.job(manifest["job_id"]) or not batch_resources.job(
        manifest["job_id"]
    )["arrayProperties"].get("size")


def test_the_array_is_never_larger_than_the_request_asks_or_the_parts_allow(batch_resources) -> None:
    prefix = inputs_prefix()
    batch_resources.put_lines(f"{prefix}a.jsonl", [RECORD] * 100)  # 5 parts

    body = body_of(post({"input": f"s3://{batch_resources.bucket}/{prefix}", "options": {"array_size": 2}}))

    assert (body["parts"], body["array_size"]) == (5, 2)


@pytest.mark.parametrize(
    ("request_body", "field", "words"),
    [
        ({"input": "s3://someone-elses-bucket/batch-inputs/a.jsonl"}, "input", "outside the pipeline's batch inputs"),
        ({"input": "s3://{bucket}/results/other/a.jsonl"}, "input", "outside the pipeline's batch inputs"),
        ({"input": "s3://{bucket}/batch-inputs/../results/a.jsonl"}, "input", "safe set"),
        ({"input": "https://example.com/a.jsonl"}, "input", "s3:// URI"),
        ({"input": "s3://{bucket}/batch-inputs/nothing-here/"}, "input", "no non-empty object"),
        (
            {"input": "s3://{bucket}/batch-inputs/x/", "options": {"array_size": 5}},
            "options.array_size",
            "exceeds the maximum of 4",
        ),
        ({"input": "s3://{bucket}/batch-inputs/x/", "options": {"array_size": 0}}, "options.array_size", "positive"),
        (
            {"input": "s3://{bucket}/batch-inputs/x/", "options": {"priority": "high"}},
            "options.priority",
            "unknown option",
        ),
        ({"input": "s3://{bucket}/batch-inputs/x/", "upload": {"parts": 1}}, "input", "either"),
        ({"inputs": "s3://{bucket}/batch-inputs/x/"}, "inputs", "unknown field"),
        ({"upload": {"parts": 6}}, "upload", "1-5 parts"),
    ],
    ids=lambda item: item if isinstance(item, str) else None,
)
def test_a_request_outside_the_rules_is_a_400_naming_the_field(batch_resources, request_body, field, words) -> None:
    body = json.loads(json.dumps(request_body).replace("{bucket}", batch_resources.bucket))

    response = post(body)

    assert response["statusCode"] == 400
    assert body_of(response)["field"] == field and words in body_of(response)["error"]
    assert batch_resources.keys(contract.BATCH_REQUESTS_PREFIX) == []


def test_an_input_over_the_size_limit_is_a_413_and_one_needing_too_many_parts_a_400(
    batch_resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = inputs_prefix()
    uri = batch_resources.put_lines(f"{prefix}a.jsonl", [RECORD] * 500)  # 24 kB: more than 20 parts of 1000 bytes

    monkeypatch.setenv(contract.BATCH_MAX_INPUT_BYTES, "10000")
    too_large = post({"input": uri})
    monkeypatch.setenv(contract.BATCH_MAX_INPUT_BYTES, "100000")
    monkeypatch.setenv(contract.BATCH_MAX_PARTS, "20")
    too_many = post({"input": uri})

    assert too_large["statusCode"] == 413 and "exceeds the limit of 10000 bytes" in body_of(too_large)["error"]
    parts = -(
        -batch_resources.s3.head_object(Bucket=batch_resources.bucket, Key=uri.split("/", 3)[3])["ContentLength"]
        // 1000
    )
    assert too_many["statusCode"] == 400 and f"needs {parts} parts" in body_of(too_many)["error"]


def test_a_submission_that_fails_leaves_no_manifest_and_answers_503(
    batch_resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = batch_resources.put_lines(f"{inputs_prefix()}a.jsonl", [RECORD])
    monkeypatch.setenv(contract.BATCH_JOB_QUEUE, batch_resources.job_queue.replace("job-queue/", "job-queue/gone-"))

    response = post({"input": uri})

    assert response["statusCode"] == 503
    assert batch_resources.keys(contract.BATCH_REQUESTS_PREFIX) == []


def test_upload_urls_take_the_client_put_and_the_location_they_name_is_then_submitted(batch_resources) -> None:
    answer = post({"upload": {"parts": 2}})
    body = body_of(answer)

    for upload, count in zip(body["uploads"], (3, 4), strict=True):
        data = ("\n".join([RECORD] * count) + "\n").encode()
        # What `curl --upload-file` sends; urllib would otherwise label the body a form.
        request = urllib.request.Request(
            upload["url"], data=data, method=upload["method"], headers={"Content-Type": "application/jsonlines"}
        )
        urllib.request.urlopen(request, timeout=10).close()
    submitted = post(body["next"]["body"])

    assert answer["statusCode"] == 201 and body["expires_in"] == 900
    assert body["input"].startswith(f"s3://{batch_resources.bucket}/{contract.BATCH_INPUTS_PREFIX}")
    assert [upload["part"] for upload in body["uploads"]] == ["part-00000.jsonl", "part-00001.jsonl"]
    assert submitted["statusCode"] == 202 and body_of(submitted)["parts"] == 2
