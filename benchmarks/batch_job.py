"""Batch mode throughput and peak memory on one task, measured (never asserted) on this machine.

For each input size (default 100,000 and 1,000,000 records of JSON Lines) the input is generated, uploaded to a
private S3 emulator (a moto server on loopback, its own process), planned as lambdas/batch_submit plans it, and
scored by the image's entry point exactly as an AWS Batch job runs it (`serve.py batch --manifest ...`, one process:
one task). Runs of the sizes are interleaved. Printed per size: records per second (from the job's own summary:
reading, scoring and writing, without the interpreter's start and the model load) and the process's peak resident
memory (its VmHWM, which the job logs). Memory must stay flat as the input grows: input is streamed, records are
scored in batches, outputs stream through multipart uploads.

usage: python benchmarks/batch_job.py [--sizes 100000,1000000] [--runs 3] [--records-per-call 4096]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from containers.inference import train  # noqa: E402
from lambdas import contract  # noqa: E402
from lambdas.batch_submit.handler import InputObject, manifest_document, plan_parts  # noqa: E402
from modules.config.batch import BatchConfig  # noqa: E402

SERVE_SCRIPT = REPO_ROOT / "containers" / "inference" / "serve.py"
BUCKET = "bench-results"
DEFAULT_PART_BYTES = BatchConfig().part_bytes


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the moto server did not start")


def generate(records: int) -> bytes:
    """RECORDS lines like the iris records, ids included, with measurements drawn at random (seeded)."""
    rng = random.Random(records)
    lines = [
        f'{{"id": "r-{n}", "features": [{rng.uniform(4, 8):.1f}, {rng.uniform(2, 4.5):.1f}, '
        f"{rng.uniform(1, 7):.1f}, {rng.uniform(0.1, 2.5):.1f}]}}"
        for n in range(records)
    ]
    return ("\n".join(lines) + "\n").encode()


def run_once(s3, environment: dict[str, str], key: str, part_bytes: int) -> tuple[float, float, int]:
    """One job over KEY: (records per second, peak MiB, records)."""
    head = s3.head_object(Bucket=BUCKET, Key=key)
    batch_id = str(uuid.uuid4())
    parts = plan_parts([InputObject(key, head["ContentLength"], head["ETag"])], part_bytes)
    manifest_key = contract.batch_request_key(batch_id)
    s3.put_object(
        Bucket=BUCKET,
        Key=manifest_key,
        Body=json.dumps(manifest_document(batch_id, BUCKET, f"s3://{BUCKET}/{key}", parts, 1, {})).encode(),
    )
    process = subprocess.Popen(
        [sys.executable, str(SERVE_SCRIPT), "batch", "--manifest", f"s3://{BUCKET}/{manifest_key}"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the job failed: {(stdout + stderr).decode()[-3000:]}")
    summary = [
        json.loads(line)
        for line in stdout.decode().splitlines()
        if line.startswith("{") and '"batch slice finished"' in line
    ][-1]
    # The job's own VmHWM: wait4's ru_maxrss would carry the peak of this (forking) process into the child's.
    return float(summary["records_per_second"]), float(summary["peak_memory_mib"]), int(summary["records"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="input sizes in records, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (interleaved)")
    parser.add_argument("--records-per-call", type=int, default=BatchConfig().records_per_call)
    parser.add_argument(
        "--part-bytes",
        type=int,
        default=DEFAULT_PART_BYTES,
        help="part size of the plan (default: batch.part_bytes' default)",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    import boto3

    emulator, url = start_emulator()
    try:
        environment = {
            **os.environ,
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            contract.RESULTS_BUCKET: BUCKET,
            contract.BATCH_RECORDS_PER_CALL: str(args.records_per_call),
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        os.environ.update(
            {
                key: environment[key]
                for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
            }
        )
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        with tempfile.TemporaryDirectory() as model_dir:
            environment["MODEL_DIR"] = str(train.write_model_dir(Path(model_dir)))
            keys = {}
            for size in sizes:
                body = generate(size)
                keys[size] = f"{contract.BATCH_INPUTS_PREFIX}bench/{size}.jsonl"
                s3.put_object(Bucket=BUCKET, Key=keys[size], Body=body)
                print(f"input of {size} records: {len(body) / 2**20:.1f} MiB", file=sys.stderr)
            rates: dict[int, list[float]] = {size: [] for size in sizes}
            peaks: dict[int, list[float]] = {size: [] for size in sizes}
            for run in range(args.runs):
                for size in sizes:
                    rate, peak, records = run_once(s3, environment, keys[size], args.part_bytes)
                    rates[size].append(rate)
                    peaks[size].append(peak)
                    print(
                        f"run {run + 1}/{args.runs} {records:>9} records {rate:>9.0f} records/s {peak:7.1f} MiB peak",
                        file=sys.stderr,
                    )
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)

    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"batch mode on one task (one process), records_per_call {args.records_per_call}, "
        f"{args.runs} interleaved runs per size"
    )
    for column in ("records", "records/s (median)", "min", "max", "peak MiB (median)", "min", "max"):
        table.add_column(column, justify="right")
    for size in sizes:
        table.add_row(
            f"{size:,}",
            f"{statistics.median(rates[size]):,.0f}",
            f"{min(rates[size]):,.0f}",
            f"{max(rates[size]):,.0f}",
            f"{statistics.median(peaks[size]):.1f}",
            f"{min(peaks[size]):.1f}",
            f"{max(peaks[size]):.1f}",
        )
    console = Console()
    console.print(table)
    low, high = min(sizes), max(sizes)
    console.print(
        f"peak memory at {high:,} / at {low:,} records = "
        f"{statistics.median(peaks[high]) / statistics.median(peaks[low]):.2f}x (flat means about 1.0x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
