"""GET /v1/batches/{id}: state, parts, record counts and output locations of a submitted batch."""

from __future__ import annotations

import json
import uuid

from containers.inference import train
from containers.inference.batch import job
from containers.inference.server.model import load_model
from lambdas import contract
from lambdas.batch_status import handler as batch_status
from lambdas.batch_submit import handler as batch_submit
from tests.lambdas.lambda_events import api_event, body_of

RECORDS = [json.dumps({"id": f"r-{n}", "features": [5.1, 3.5, 1.4, 0.2]}) for n in range(40)]


def get(batch_id: str) -> dict:
    return batch_status.handler(
        api_event(method="GET", path=f"/v1/batches/{batch_id}", path_parameters={"id": batch_id}), None
    )


def submitted(resources, lines: list[str]) -> dict:
    prefix = f"{contract.BATCH_INPUTS_PREFIX}{uuid.uuid4()}/"
    uri = resources.put_lines(f"{prefix}part-00000.jsonl", lines)
    response = batch_submit.handler(api_event({"input": uri}, path="/v1/batches"), None)
    assert response["statusCode"] == 202, response
    return body_of(response)


def test_a_finished_batch_reports_its_state_parts_counts_and_every_output(batch_resources, tmp_path) -> None:
    accepted = submitted(batch_resources, [*RECORDS, "not a record"])
    manifest_uri = f"s3://{batch_resources.bucket}/{contract.batch_request_key(accepted['batch_id'])}"
    job.run(
        manifest_uri,
        model=load_model(train.write_model_dir(tmp_path)),
        s3=job.s3_client(),
        array_index=None,
        settings=job.Settings(),
        expected_bucket=batch_resources.bucket,
    )

    response = get(accepted["batch_id"])

    body = body_of(response)
    assert response["statusCode"] == 200
    assert body["state"] == "succeeded" and body["job"]["status"] == "SUCCEEDED"
    assert body["parts"] == {"total": accepted["parts"], "done": accepted["parts"], "failed": 0, "pending": 0}
    assert body["records"] == {"total": 41, "succeeded": 40, "failed": 1}
    prefix = f"s3://{batch_resources.bucket}/{contract.batch_results_prefix(accepted['batch_id'])}"
    assert body["outputs"]["prefix"] == prefix
    assert [output["predictions"] for output in body["outputs"]["parts"]] == [
        f"{prefix}part-{index:05d}.jsonl" for index in range(accepted["parts"])
    ]
    assert sum(1 for output in body["outputs"]["parts"] if output["errors"]) == 1


def test_a_batch_whose_job_failed_counts_its_unfinished_parts_as_failed() -> None:
    manifest = {
        "batch_id": "b",
        "bucket": "bucket",
        "output_prefix": "results/batches/b/",
        "array_size": 2,
        "parts": [{"index": 0}, {"index": 1}, {"index": 2}],
    }
    marker = {
        "part": 0,
        "output": "results/batches/b/part-00000.jsonl",
        "errors": None,
        "records": 5,
        "succeeded": 5,
        "failed": 0,
    }

    failed = batch_status.report(manifest, [marker], {"id": "j", "status": "FAILED"})
    running = batch_status.report(manifest, [marker], {"id": "j", "status": "RUNNING"})
    unknown_job = batch_status.report(manifest, [marker], None)

    assert (failed["state"], failed["parts"]) == ("failed", {"total": 3, "done": 1, "failed": 2, "pending": 0})
    assert (running["state"], running["parts"]["pending"]) == ("running", 2)
    assert unknown_job["state"] == "submitted" and unknown_job["records"]["succeeded"] == 5


def test_an_unknown_batch_is_404_and_an_id_that_is_no_uuid_is_400(batch_resources) -> None:
    unknown = get(str(uuid.uuid4()))
    malformed = get("../../requests/x")

    assert unknown["statusCode"] == 404 and body_of(unknown)["field"] == "id"
    assert malformed["statusCode"] == 400 and "UUID" in body_of(malformed)["error"]
