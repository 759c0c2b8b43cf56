"""Fixtures for the image's batch mode: the real model, real JSON Lines from the iris data set, and S3 in moto.

The moto server and the empty-account reset are the Lambda tests' (tests/lambdas/conftest.py); the access gate
records every S3 call the batch mode makes into tools/access_check/manifests/batch-job.json.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from sklearn.datasets import load_iris

from containers.inference.server.model import LoadedModel, load_model
from lambdas import contract
from lambdas.batch_submit.handler import InputObject, manifest_document, plan_parts
from tests.lambdas.conftest import aws_environment, moto_endpoint  # noqa: F401  (fixtures: moto on loopback)
from tools.access_check.pytest_plugin import aws_call_recorder, record_aws_calls  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def model(model_dir: Path) -> LoadedModel:
    return load_model(model_dir)


def iris_lines(count: int, *, start: int = 0) -> list[str]:
    """COUNT real records (the iris measurements, repeated), ids r-<n> from START."""
    data = load_iris().data.tolist()
    return [json.dumps({"id": f"r-{n}", "features": data[n % len(data)]}) for n in range(start, start + count)]


@dataclass
class Store:
    """A results bucket in moto with the batch key layout of lambdas/contract.py."""

    s3: Any
    bucket: str

    def put_lines(self, name: str, lines: list[str]) -> str:
        key = f"{contract.BATCH_INPUTS_PREFIX}{uuid.uuid4()}/{name}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
        return key

    def manifest(self, keys: list[str], *, part_bytes: int, array_size: int = 1) -> str:
        """Plan KEYS as batch_submit does, store the manifest; returns its s3:// URI."""
        objects = []
        for key in keys:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
            objects.append(InputObject(key, head["ContentLength"], head["ETag"]))
        batch_id = str(uuid.uuid4())
        document = manifest_document(
            batch_id, self.bucket, f"s3://{self.bucket}/{keys[0]}", plan_parts(objects, part_bytes), array_size, {}
        )
        key = contract.batch_request_key(batch_id)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(document).encode())
        return f"s3://{self.bucket}/{key}"

    def read_manifest(self, uri: str) -> dict[str, Any]:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=uri.split("/", 3)[3])["Body"].read())

    def text(self, key: str) -> str:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()

    def jsonl(self, key: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text(key).splitlines()]

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@pytest.fixture
def store(aws_environment: str, monkeypatch: pytest.MonkeyPatch) -> Store:  # noqa: F811 - the imported fixture
    s3 = boto3.client("s3")
    bucket = f"results-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv(contract.RESULTS_BUCKET, bucket)
    return Store(s3, bucket)


@pytest.fixture
def lines() -> Callable[..., list[str]]:
    return iris_lines
