"""The batch mode run directly on real JSON Lines with the real model, against S3 in moto: a whole batch, bad
records, a resume after a partial run, array slices, and the exit codes the job definition's retries read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from containers.inference.batch import job
from containers.inference.batch.job import Settings
from lambdas import contract
from modules.config import batch as batch_config
from tests.containers.batch.conftest import iris_lines

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def run(store, manifest_uri: str, model, *, array_index: int | None = None, **settings) -> job.RunSummary:
    return job.run(
        manifest_uri,
        model=model,
        s3=job.s3_client(),
        array_index=array_index,
        settings=Settings(**settings),
        expected_bucket=store.bucket,
    )


def outputs(store, manifest_uri: str) -> tuple[dict, list[str], list[dict]]:
    """The manifest, the prediction lines of every part in part order, and the done markers."""
    manifest = store.read_manifest(manifest_uri)
    prefix, parts = manifest["output_prefix"], manifest["parts"]
    predictions, markers = [], []
    for part in parts:
        stem = f"{prefix}part-{part['index']:05d}"
        predictions += store.text(f"{stem}.jsonl").splitlines()
        markers.append(json.loads(store.text(f"{stem}.done.json")))
    return manifest, predictions, markers


def test_the_job_and_the_image_read_the_names_and_layout_the_infrastructure_writes() -> None:
    assert (job.RECORDS_PER_CALL_ENV, job.MAX_RECORD_BYTES_ENV, job.RESULTS_BUCKET_ENV) == (
        contract.BATCH_RECORDS_PER_CALL,
        contract.BATCH_MAX_RECORD_BYTES,
        contract.RESULTS_BUCKET,
    )
    assert job.MANIFEST_VERSION == contract.BATCH_MANIFEST_VERSION
    assert job.OUTPUT_PART_BYTES == batch_config.OUTPUT_PART_BYTES


def test_every_record_is_predicted_in_input_order_with_its_id(store, model) -> None:
    records = iris_lines(1000)
    manifest_uri = store.manifest([store.put_lines("a.jsonl", records)], part_bytes=1024 * 1024)

    summary = run(store, manifest_uri, model, records_per_call=128)

    manifest, predictions, [marker] = outputs(store, manifest_uri)
    rows = np.asarray([json.loads(line)["features"] for line in records])
    expected = [{"id": f"r-{n}", **prediction} for n, prediction in enumerate(model.predict(rows))]
    assert [json.loads(line) for line in predictions] == expected
    assert (summary.parts, summary.records, summary.failed) == (1, 1000, 0)
    assert (marker["records"], marker["succeeded"], marker["failed"], marker["errors"]) == (1000, 1000, 0, None)
    assert marker["model_version"] == model.version
    assert store.keys(f"{manifest['output_prefix']}part-00000.errors") == []


def test_bad_records_go_to_the_errors_part_and_the_job_goes_on(store, model) -> None:
    records = iris_lines(6)
    bad = ['{"id": "bad-1", "features": [1, 2]}', "not json at all", '{"id": "bad-3", "features": [1, 2, 3, "4"]}']
    lines = [records[0], bad[0], records[1], bad[1], "", records[2], bad[2], *records[3:], "[5.1, 3.5, 1.4, 0.2]"]
    key = store.put_lines("mixed.jsonl", lines)
    manifest_uri = store.manifest([key], part_bytes=1024 * 1024)

    summary = run(store, manifest_uri, model)

    manifest, predictions, [marker] = outputs(store, manifest_uri)
    ids = [json.loads(line)["id"] for line in predictions]
    assert ids[:6] == [f"r-{n}" for n in range(6)] and ids[6].startswith(f"{key}@")
    errors = store.jsonl(marker["errors"])
    assert [error["id"] for error in errors] == ["bad-1", None, "bad-3"]
    assert all(error["source"].startswith(f"{key}@") and error["error"] for error in errors)
    assert (summary.records, summary.failed, marker["succeeded"], marker["failed"]) == (10, 3, 7, 3)


def test_parts_cut_inside_lines_score_every_record_exactly_once(store, model) -> None:
    records = iris_lines(300)
    keys = [store.put_lines("one.jsonl", records[:200]), store.put_lines("two.jsonl", records[200:])]
    manifest_uri = store.manifest(keys, part_bytes=997)  # a prime: cuts fall inside lines

    run(store, manifest_uri, model)

    manifest, predictions, markers = outputs(store, manifest_uri)
    by_key = {
        key: [record for record in records if record in (records[:200] if "one" in key else records[200:])]
        for key in keys
    }
    expected_ids = [json.loads(record)["id"] for key in sorted(keys) for record in by_key[key]]
    assert len(manifest["parts"]) > 10
    assert [json.loads(line)["id"] for line in predictions] == expected_ids
    assert sum(marker["records"] for marker in markers) == 300


def test_a_retried_child_skips_the_parts_it_finished(store, model, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest_uri = store.manifest([store.put_lines("a.jsonl", iris_lines(200))], part_bytes=2000)
    scored: list[int] = []
    real_score_part = job.score_part

    def reclaimed_at_the_third_part(s3, manifest, part, scorer, settings):
        if len(scored) == 2:
            raise job.Stopped("SIGTERM")  # a Spot reclaim between parts
        scored.append(part.index)
        return real_score_part(s3, manifest, part, scorer, settings)

    monkeypatch.setattr(job, "score_part", reclaimed_at_the_third_part)
    with pytest.raises(job.Stopped):
        run(store, manifest_uri, model)
    manifest = store.read_manifest(manifest_uri)
    finished = {
        key: store.s3.head_object(Bucket=store.bucket, Key=key)["ETag"] for key in store.keys(manifest["output_prefix"])
    }
    monkeypatch.setattr(job, "score_part", real_score_part)

    summary = run(store, manifest_uri, model)

    assert scored == [0, 1]
    assert (summary.skipped, summary.parts) == (2, len(manifest["parts"]) - 2)
    assert {key: store.s3.head_object(Bucket=store.bucket, Key=key)["ETag"] for key in finished} == finished
    _, predictions, _ = outputs(store, manifest_uri)
    assert [json.loads(line)["id"] for line in predictions] == [f"r-{n}" for n in range(200)]


def test_a_finished_batch_run_again_writes_nothing(store, model) -> None:
    manifest_uri = store.manifest([store.put_lines("a.jsonl", iris_lines(50))], part_bytes=500)
    run(store, manifest_uri, model)
    prefix = store.read_manifest(manifest_uri)["output_prefix"]
    before = {key: store.s3.head_object(Bucket=store.bucket, Key=key)["LastModified"] for key in store.keys(prefix)}

    summary = run(store, manifest_uri, model)

    assert (summary.parts, summary.skipped) == (0, len(store.read_manifest(manifest_uri)["parts"]))
    assert {key: store.s3.head_object(Bucket=store.bucket, Key=key)["LastModified"] for key in before} == before


def test_an_array_child_scores_only_its_own_slice_and_the_children_together_score_all(store, model) -> None:
    manifest_uri = store.manifest([store.put_lines("a.jsonl", iris_lines(120))], part_bytes=600, array_size=3)
    manifest = store.read_manifest(manifest_uri)
    prefix, count = manifest["output_prefix"], len(manifest["parts"])

    run(store, manifest_uri, model, array_index=1)

    done = [key for key in store.keys(prefix) if key.endswith(".done.json")]
    assert done == [f"{prefix}part-{index:05d}.done.json" for index in range(1, count, 3)]
    for child in (0, 2):
        run(store, manifest_uri, model, array_index=child)
    _, predictions, _ = outputs(store, manifest_uri)
    assert [json.loads(line)["id"] for line in predictions] == [f"r-{n}" for n in range(120)]


def test_an_input_changed_since_submission_fails_the_child_as_an_application_error(store, model) -> None:
    key = store.put_lines("a.jsonl", iris_lines(10))
    manifest_uri = store.manifest([key], part_bytes=1024)
    store.s3.put_object(Bucket=store.bucket, Key=key, Body=b"[1, 2, 3, 4]\n")

    with pytest.raises(job.JobError, match="changed since the batch was submitted"):
        run(store, manifest_uri, model)


def test_a_manifest_outside_the_jobs_bucket_is_refused_before_anything_is_read(store, model) -> None:
    with pytest.raises(job.JobError, match="reads and writes"):
        job.run(
            f"s3://someone-elses-bucket/{contract.batch_request_key('x')}",
            model=model,
            s3=job.s3_client(),
            array_index=None,
            settings=Settings(),
            expected_bucket=store.bucket,
        )


# --- the command line: exit codes the job definition's retry strategy reads ------------------------------------


def test_the_command_exits_0_when_done_and_1_for_a_malformed_manifest(store, model_dir: Path, capsys) -> None:
    manifest_uri = store.manifest([store.put_lines("a.jsonl", iris_lines(20))], part_bytes=1024)
    malformed = contract.batch_request_key("00000000-0000-4000-8000-000000000000")
    store.s3.put_object(Bucket=store.bucket, Key=malformed, Body=b'{"version": 1, "parts": "all of them"}')

    assert job.main(["--manifest", manifest_uri, "--model-dir", str(model_dir)], job_loader()) == job.EXIT_OK
    [finished] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"batch slice finished"' in line]
    assert finished["records"] == 20 and finished["peak_memory_mib"] > 0, "the log says how much memory it took"
    assert (
        job.main(["--manifest", f"s3://{store.bucket}/{malformed}", "--model-dir", str(model_dir)], job_loader())
        == job.EXIT_FAILED
    )


def test_sigterm_stops_the_child_with_143_and_leaves_the_unfinished_part_invisible(
    store, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest_uri = store.manifest([store.put_lines("a.jsonl", iris_lines(40))], part_bytes=400)
    real_score_part = job.score_part

    def reclaimed(s3, manifest, part, scorer, settings):
        if part.index == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_score_part(s3, manifest, part, scorer, settings)

    monkeypatch.setattr(job, "score_part", reclaimed)

    assert job.main(["--manifest", manifest_uri, "--model-dir", str(model_dir)], job_loader()) == job.EXIT_STOPPED
    prefix = store.read_manifest(manifest_uri)["output_prefix"]
    assert [key.removeprefix(prefix) for key in store.keys(prefix)] == ["part-00000.done.json", "part-00000.jsonl"]


def test_a_malformed_array_index_is_a_usage_error(store, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(job.ARRAY_INDEX_ENV, "first")

    assert (
        job.main(["--manifest", f"s3://{store.bucket}/x.json", "--model-dir", str(model_dir)], job_loader())
        == job.EXIT_USAGE
    )


def test_the_images_entry_point_runs_the_batch_mode(store, model_dir: Path) -> None:
    manifest_uri = store.manifest([store.put_lines("a.jsonl", iris_lines(30))], part_bytes=300, array_size=2)

    for index in ("0", "1"):
        subprocess.run(
            [
                sys.executable,
                "containers/inference/serve.py",
                "batch",
                "--manifest",
                manifest_uri,
                "--model-dir",
                str(model_dir),
            ],
            cwd=PROJECT_ROOT,
            check=True,
            timeout=120,
            env={**os.environ, job.ARRAY_INDEX_ENV: index},
            capture_output=True,
        )

    _, predictions, _ = outputs(store, manifest_uri)
    assert [json.loads(line)["id"] for line in predictions] == [f"r-{n}" for n in range(30)]


def job_loader():
    from containers.inference.server.model import load_model

    return load_model
