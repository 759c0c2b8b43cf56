"""SageMaker Batch Transform against the model server, under Transform's own request pattern: the server (as the image
runs it, SageMaker's default limits) answers /execution-parameters; a JSON Lines input is cut at line boundaries into
mini-batches of at most MaxPayloadInMB (SplitType Line, BatchStrategy MultiRecord), sent MaxConcurrentTransforms at a
time with Content-Type and Accept application/jsonlines, and the answers assembled line by line (AssembleWith Line).
"""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

from containers.inference.server.model import load_model
from modules.limits import SAGEMAKER_TRANSFORM_PAYLOAD

JSON_LINES = "application/jsonlines"
MIB = 1024 * 1024


def execution_parameters(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/execution-parameters", timeout=10) as response:
        return json.loads(response.read())


def mini_batches(lines: list[bytes], max_bytes: int) -> list[bytes]:
    """What Transform sends for SplitType Line and MultiRecord: as many whole lines as fit MAX_BYTES per request."""
    batches, current, size = [], [], 0
    for line in lines:
        if current and size + len(line) > max_bytes:
            batches.append(b"".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    return [*batches, b"".join(current)] if current else batches


def invoke(url: str, body: bytes) -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body, method="POST", headers={"Content-Type": JSON_LINES, "Accept": JSON_LINES}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, response.headers["Content-Type"], response.read()


@pytest.fixture(scope="module")
def transform_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from tests.containers.model_server_process import start_server

    server = start_server(model_dir, tmp_path_factory.mktemp("transform") / "server.log", workers=2)
    yield server
    server.stop()


def test_execution_parameters_stay_inside_transforms_limits(transform_server) -> None:
    parameters = execution_parameters(transform_server.url)

    assert parameters["BatchStrategy"] == "MULTI_RECORD"
    assert parameters["MaxPayloadInMB"] == 6, "InvokeEndpoint's 6 MiB body, the server's default limit"
    assert parameters["MaxPayloadInMB"] * parameters["MaxConcurrentTransforms"] <= SAGEMAKER_TRANSFORM_PAYLOAD.value


def test_a_line_split_multi_record_transform_gets_one_prediction_line_per_record_in_order(
    transform_server, model_dir: Path
) -> None:
    parameters = execution_parameters(transform_server.url)
    features = load_iris().data.tolist()
    records = [features[n % len(features)] for n in range(500_000)]  # two full mini-batches and a rest
    lines = [
        (json.dumps(record) if n % 2 else json.dumps({"features": record})).encode() + b"\n"
        for n, record in enumerate(records)
    ]
    # The larger reading of "MB" (MiB): whatever Transform means, a mini-batch of this size is accepted.
    batches = mini_batches(lines, parameters["MaxPayloadInMB"] * MIB)

    with ThreadPoolExecutor(max_workers=parameters["MaxConcurrentTransforms"]) as pool:
        answers = list(pool.map(lambda body: invoke(transform_server.url, body), batches))

    assert len(batches) >= 3 and max(len(body) for body in batches) > (parameters["MaxPayloadInMB"] - 1) * MIB
    assert {(status, content_type) for status, content_type, _ in answers} == {(200, JSON_LINES)}
    assembled = [json.loads(line) for _, _, body in answers for line in body.decode().splitlines()]  # AssembleWith Line
    assert assembled == load_model(model_dir).predict(np.asarray(records))


def test_a_bad_record_fails_its_mini_batch_with_the_line_named(transform_server) -> None:
    body = b"[5.1, 3.5, 1.4, 0.2]\n[5.1, 3.5]\n"

    with pytest.raises(urllib.error.HTTPError) as error:
        invoke(transform_server.url, body)

    assert error.value.code == 400 and "lines[1] has 2 features" in json.loads(error.value.read())["error"]
