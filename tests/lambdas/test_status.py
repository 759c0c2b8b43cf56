"""GET /v1/jobs/{id}: 200 finished, 202 pending, 404 unknown, 400 not an id."""

from __future__ import annotations

import json
import uuid

import pytest

from lambdas import contract
from lambdas.status import handler as status
from tests.lambdas.lambda_events import api_event, body_of


def status_event(job_id: str | None) -> dict:
    parameters = None if job_id is None else {"id": job_id}
    return api_event(method="GET", path=f"/v1/jobs/{job_id}", path_parameters=parameters)


def put(pipeline, key: str, document: dict) -> None:
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=json.dumps(document).encode())


def test_a_finished_job_is_200_with_its_result(pipeline) -> None:
    job_id = str(uuid.uuid4())
    result = {"job_id": job_id, "status": "succeeded", "result": {"predictions": []}}
    put(pipeline, contract.request_key(job_id), {"job_id": job_id, "status": "pending"})
    put(pipeline, contract.result_key(job_id), result)

    response = status.handler(status_event(job_id), None)

    assert response["statusCode"] == 200
    assert body_of(response) == result


def test_a_job_with_only_a_request_is_202_pending(pipeline) -> None:
    job_id = str(uuid.uuid4())
    put(pipeline, contract.request_key(job_id), {"job_id": job_id, "status": "pending"})

    response = status.handler(status_event(job_id), None)

    assert response["statusCode"] == 202
    assert body_of(response) == {"job_id": job_id, "status": "pending"}


def test_an_unknown_job_is_404(pipeline) -> None:
    response = status.handler(status_event(str(uuid.uuid4())), None)

    assert response["statusCode"] == 404
    assert body_of(response)["field"] == "id"


def test_an_upper_case_id_finds_the_same_job(pipeline) -> None:
    job_id = str(uuid.uuid4())
    put(pipeline, contract.request_key(job_id), {"job_id": job_id, "status": "pending"})

    response = status.handler(status_event(job_id.upper()), None)

    assert response["statusCode"] == 202


@pytest.mark.parametrize("job_id", ["not-a-uuid", "../requests/x", "", "1234", None])
def test_an_id_that_is_not_a_uuid_is_400_and_never_touches_s3(
    job_id: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(contract.RESULTS_BUCKET, "no-such-bucket")

    response = status.handler(status_event(job_id), None)

    assert response["statusCode"] == 400
    assert body_of(response)["field"] == "id"
