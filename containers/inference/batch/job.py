"""Run one batch job (or one child of an array job): manifest -> own slice of parts -> outputs and done markers.

Per part `NNNNN` (its index in the manifest) under the manifest's output prefix:
- `part-NNNNN.jsonl`: one prediction line per valid record, in input order, each with the record's id;
- `part-NNNNN.errors.jsonl`: one line per bad record (id, source, reason), only when there were any;
- `part-NNNNN.done.json`: written last; its presence means the part is finished (resume skips it).

Exit codes: 0 when every part of the slice is done (bad records included), 1 for an application error (manifest
missing or malformed, an input object gone or changed since submission): the job definition does not retry those,
2 for a usage error, 143 when stopped by SIGTERM (a Spot reclaim: the job definition retries it, and the retry
resumes from the parts already done).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .records import Scorer, parse_lines
from .s3io import CHUNK_BYTES, LazyObjectWriter, ObjectWriter, lines_in_range, range_origin

MANIFEST_VERSION = 1
# Variables the job definition sets (the same names as lambdas/contract.py, which the image does not carry;
# tests/containers/batch/test_job.py checks that they agree).
RESULTS_BUCKET_ENV = "RESULTS_BUCKET"
RECORDS_PER_CALL_ENV = "BATCH_RECORDS_PER_CALL"
MAX_RECORD_BYTES_ENV = "BATCH_MAX_RECORD_BYTES"
# Set by AWS Batch on every child of an array job (0-based), and on every attempt (1-based).
ARRAY_INDEX_ENV = "AWS_BATCH_JOB_ARRAY_INDEX"
ATTEMPT_ENV = "AWS_BATCH_JOB_ATTEMPT"
DEFAULT_RECORDS_PER_CALL = 4096
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024
# Each output streams in multipart parts of this size (modules/config/batch.py derives its limits from it).
OUTPUT_PART_BYTES = 8 * 1024 * 1024
DEFAULT_MODEL_DIR = "/opt/ml/model"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 143
# S3 calls of a batch job may wait: retried a few times by the SDK (throttling, 5xx) before the job fails.
S3_RETRIES = {"mode": "standard", "total_max_attempts": 5}


class JobError(Exception):
    """An application error: retrying the same job cannot help (exit 1)."""


class Stopped(Exception):  # noqa: N818 - a signal, not an error
    """SIGTERM arrived (Spot reclaim, job terminated)."""


@dataclass(frozen=True)
class Part:
    """A byte range [start, end) of one input object; `etag` pins the version the batch was planned on."""

    index: int
    key: str
    start: int
    end: int
    etag: str

    def names(self, prefix: str) -> tuple[str, str, str]:
        """Keys of its predictions, its bad records and its done marker."""
        stem = f"{prefix}part-{self.index:05d}"
        return f"{stem}.jsonl", f"{stem}.errors.jsonl", f"{stem}.done.json"


@dataclass(frozen=True)
class Manifest:
    """What lambdas/batch_submit wrote to requests/batches/<id>.json."""

    batch_id: str
    bucket: str
    output_prefix: str
    array_size: int
    parts: tuple[Part, ...]

    @classmethod
    def from_document(cls, document: Any) -> Manifest:
        try:
            if document.get("version") != MANIFEST_VERSION:
                raise JobError(f"manifest version {document.get('version')!r}; this image reads {MANIFEST_VERSION}")
            parts = tuple(
                Part(int(p["index"]), str(p["key"]), int(p["start"]), int(p["end"]), str(p["etag"]))
                for p in document["parts"]
            )
            manifest = cls(
                str(document["batch_id"]),
                str(document["bucket"]),
                str(document["output_prefix"]),
                int(document["array_size"]),
                parts,
            )
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise JobError(f"malformed manifest: {type(error).__name__}: {error}") from None
        if [part.index for part in parts] != list(range(len(parts))) or manifest.array_size < 1:
            raise JobError("malformed manifest: parts must be numbered 0..n-1 and array_size at least 1")
        if not manifest.output_prefix.endswith("/"):
            raise JobError(f"malformed manifest: output_prefix {manifest.output_prefix!r} must end with '/'")
        return manifest

    def slice(self, array_index: int | None) -> tuple[Part, ...]:
        """The parts of child ARRAY_INDEX (every array_size-th part); None: every part (a single job)."""
        if array_index is None:
            return self.parts
        if not 0 <= array_index < self.array_size:
            raise JobError(f"{ARRAY_INDEX_ENV}={array_index} is outside the array of {self.array_size}")
        return self.parts[array_index :: self.array_size]


@dataclass(frozen=True)
class Settings:
    records_per_call: int = DEFAULT_RECORDS_PER_CALL
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    output_part_bytes: int = OUTPUT_PART_BYTES

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str] = os.environ) -> Settings:
        return cls(
            records_per_call=_positive(env, RECORDS_PER_CALL_ENV, DEFAULT_RECORDS_PER_CALL),
            max_record_bytes=_positive(env, MAX_RECORD_BYTES_ENV, DEFAULT_MAX_RECORD_BYTES),
        )


def _positive(env: Any, name: str, default: int) -> int:
    raw = str(env.get(name, "")).strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) == 0:
        raise JobError(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def log(message: str, **fields: Any) -> None:
    """One JSON object per line on stdout (the awslogs driver sends each line to CloudWatch Logs)."""
    line = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "logger": "inference.batch",
        "message": message,
        **fields,
    }
    print(json.dumps(line, default=str), flush=True)


# --- S3 ------------------------------------------------------------------------------------------------------


def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(connect_timeout=5, read_timeout=60, retries=S3_RETRIES))


def parse_s3_uri(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise JobError(f"--manifest must be s3://<bucket>/<key>, got {uri!r}")
    return parts.netloc, parts.path.lstrip("/")


def read_manifest(s3: Any, uri: str, expected_bucket: str | None) -> Manifest:
    from botocore.exceptions import ClientError

    bucket, key = parse_s3_uri(uri)
    if expected_bucket and bucket != expected_bucket:
        raise JobError(f"the manifest is in {bucket!r}; this job reads and writes {expected_bucket!r} only")
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        raise JobError(f"cannot read the manifest {uri}: {error.response.get('Error', {}).get('Code')}") from None
    except ValueError as error:
        raise JobError(f"the manifest {uri} is not JSON: {error}") from None
    manifest = Manifest.from_document(document)
    if manifest.bucket != bucket:
        raise JobError(f"the manifest names bucket {manifest.bucket!r}, but lives in {bucket!r}")
    return manifest


def finished_parts(s3: Any, manifest: Manifest) -> set[int]:
    """Indexes of the parts whose done marker exists: one listing of the output prefix, not one call per part."""
    done = set()
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=manifest.bucket, Prefix=manifest.output_prefix)
    for page in pages:
        for item in page.get("Contents", []):
            name = item["Key"][len(manifest.output_prefix) :]
            if name.startswith("part-") and name.endswith(".done.json"):
                number = name.removeprefix("part-").removesuffix(".done.json")
                if number.isdigit():
                    done.add(int(number))
    return done


def _read_range(s3: Any, manifest: Manifest, part: Part) -> Any:
    from botocore.exceptions import ClientError

    try:
        # IfMatch: the bytes the parts were planned on, or a clear failure instead of lines cut at random places.
        return s3.get_object(
            Bucket=manifest.bucket, Key=part.key, Range=f"bytes={range_origin(part.start)}-", IfMatch=part.etag
        )["Body"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "412"):
            raise JobError(f"s3://{manifest.bucket}/{part.key} changed since the batch was submitted") from None
        if code in ("NoSuchKey", "404", "AccessDenied", "403"):
            raise JobError(f"cannot read s3://{manifest.bucket}/{part.key}: {code}") from None
        raise


# --- scoring -------------------------------------------------------------------------------------------------


def batched(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while batch := list(islice(items, size)):
        yield batch


def score_part(s3: Any, manifest: Manifest, part: Part, scorer: Scorer, settings: Settings) -> dict[str, Any]:
    """Score one part and write its outputs, then its done marker; returns the marker."""
    began = time.monotonic()
    output_key, errors_key, marker_key = part.names(manifest.output_prefix)
    output = ObjectWriter(s3, manifest.bucket, output_key, part_bytes=settings.output_part_bytes)
    errors = LazyObjectWriter(s3, manifest.bucket, errors_key, part_bytes=settings.output_part_bytes)
    body = _read_range(s3, manifest, part)
    succeeded = failed = 0
    try:
        lines = lines_in_range(
            body.iter_chunks(CHUNK_BYTES), start=part.start, end=part.end, max_line=settings.max_record_bytes
        )
        for batch in batched(lines, settings.records_per_call):
            parsed = parse_lines(
                batch, key=part.key, n_features=scorer.n_features, max_record_bytes=settings.max_record_bytes
            )
            output.write(scorer.lines(parsed.ids, parsed.matrix).encode())
            errors.write("".join(parsed.errors).encode())
            succeeded, failed = succeeded + len(parsed.rows), failed + len(parsed.errors)
        output.close()
        errors.close()
    except BaseException:
        output.discard()
        errors.discard()
        raise
    finally:
        body.close()
    marker = {
        "batch_id": manifest.batch_id,
        "part": part.index,
        "input": f"s3://{manifest.bucket}/{part.key}",
        "range": [part.start, part.end],
        "output": output_key,
        "errors": errors_key if failed else None,
        "records": succeeded + failed,
        "succeeded": succeeded,
        "failed": failed,
        "model_version": scorer.version,
        "attempt": os.environ.get(ATTEMPT_ENV),
        "seconds": round(time.monotonic() - began, 3),
    }
    s3.put_object(
        Bucket=manifest.bucket, Key=marker_key, Body=json.dumps(marker).encode(), ContentType="application/json"
    )
    return marker


@dataclass
class RunSummary:
    parts: int = 0
    skipped: int = 0
    records: int = 0
    failed: int = 0
    seconds: float = 0.0


def run(
    manifest_uri: str,
    *,
    model: Any,
    s3: Any,
    array_index: int | None,
    settings: Settings,
    expected_bucket: str | None = None,
) -> RunSummary:
    """Score every unfinished part of this child's slice; raises JobError for application errors."""
    began = time.monotonic()
    manifest = read_manifest(s3, manifest_uri, expected_bucket)
    scorer = Scorer(model)
    mine = manifest.slice(array_index)
    done = finished_parts(s3, manifest)
    summary = RunSummary()
    log(
        "batch slice started",
        batch_id=manifest.batch_id,
        array_index=array_index,
        parts=len(mine),
        already_done=len([part for part in mine if part.index in done]),
        model_version=scorer.version,
    )
    for part in mine:
        if part.index in done:
            summary.skipped += 1
            continue
        marker = score_part(s3, manifest, part, scorer, settings)
        summary.parts += 1
        summary.records += marker["records"]
        summary.failed += marker["failed"]
        log(
            "part done",
            batch_id=manifest.batch_id,
            part=part.index,
            records=marker["records"],
            failed=marker["failed"],
            seconds=marker["seconds"],
        )
    summary.seconds = time.monotonic() - began
    log(
        "batch slice finished",
        batch_id=manifest.batch_id,
        array_index=array_index,
        parts=summary.parts,
        skipped=summary.skipped,
        records=summary.records,
        failed=summary.failed,
        records_per_second=round(summary.records / summary.seconds) if summary.seconds else None,
        peak_memory_mib=peak_memory_mib(),
    )
    return summary


def peak_memory_mib() -> float | None:
    """This process's peak resident memory since it started its program (Linux VmHWM), for the job's log: sized
    against the job definition's memory. None where /proc is missing. (getrusage's ru_maxrss would not do: it keeps
    the peak of the process that forked us.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


# --- command line --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="serve.py batch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", required=True, help="s3://<bucket>/requests/batches/<id>.json")
    parser.add_argument("--model-dir", type=Path, default=Path(os.environ.get("MODEL_DIR") or DEFAULT_MODEL_DIR))
    parser.add_argument(
        "--array-index",
        type=int,
        default=None,
        help=f"the child's index; default ${ARRAY_INDEX_ENV}; unset: every part",
    )
    return parser.parse_args(argv)


def _stop(signum: int, _frame: Any) -> None:
    raise Stopped(signal.Signals(signum).name)


def main(argv: Sequence[str], load_model: Callable[[Path], Any]) -> int:
    """`serve.py batch ...`: the exit code the job definition's retry strategy reads."""
    args = parse_args(argv)
    raw_index = os.environ.get(ARRAY_INDEX_ENV, "").strip()
    if args.array_index is None and raw_index and not raw_index.isdigit():
        log("batch slice failed", error=f"{ARRAY_INDEX_ENV}={raw_index!r} is not an index")
        return EXIT_USAGE
    array_index = args.array_index if args.array_index is not None else (int(raw_index) if raw_index else None)
    try:
        model = load_model(args.model_dir)
    except Exception as error:  # ModelLoadError, or whatever unpickling raised: the image itself is broken
        log("batch slice failed: model not loaded", model_dir=str(args.model_dir), error=str(error))
        return EXIT_FAILED
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        run(
            args.manifest,
            model=model,
            s3=s3_client(),
            array_index=array_index,
            settings=Settings.from_env(),
            expected_bucket=os.environ.get(RESULTS_BUCKET_ENV) or None,
        )
    except Stopped as signal_name:
        log("batch slice stopped; a retry resumes from the parts already done", signal=str(signal_name))
        return EXIT_STOPPED
    except JobError as error:
        log("batch slice failed", error=str(error))
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
    return EXIT_OK
