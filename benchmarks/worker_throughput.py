"""Jobs per second and job latency through the queue consumer (`serve.py work`), measured, not asserted.

Everything on loopback: a moto server for the queue, bucket and topic; the image's model server (gunicorn, the
real example model); the consumer as its own process, exactly as the image runs it. Each measurement sends JOBS
jobs to the queue at once and waits for all their results; a job's latency runs from its send to the
`completed_at` of its result document (queueing, the consumer's receive, the model call, the result's write and
announcement). Batch sizes (QUEUE_BATCH_SIZE) are interleaved over the rounds, so drifting load hits them alike;
medians and ranges are reported. Run it when `uptime` shows a load average under 1.5.

usage: python benchmarks/worker_throughput.py [--jobs 200] [--rounds 3] [--batch-sizes 1,5,10] [--model-workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tools.emulator import start_emulator  # noqa: E402
from tools.local.smoke import LOG_DIR, LocalProcess, ModelServer, wait_for  # noqa: E402

REGION = "us-east-1"
ROW = [5.1, 3.5, 1.4, 0.2]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def resources(clients: dict, run: str) -> dict[str, str]:
    bucket = f"bench-{run}"
    clients["s3"].create_bucket(Bucket=bucket)
    dead = clients["sqs"].create_queue(QueueName=f"bench-{run}-dlq")["QueueUrl"]
    dead_arn = clients["sqs"].get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = clients["sqs"].create_queue(QueueName=f"bench-{run}", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "5"})})["QueueUrl"]
    topic = clients["sns"].create_topic(Name=f"bench-{run}-results")["TopicArn"]
    return {"bucket": bucket, "queue": queue, "topic": topic}


def measure(clients: dict, aws_env: dict[str, str], model_url: str, batch_size: int, jobs: int) -> dict[str, float]:
    names = resources(clients, uuid.uuid4().hex[:8])
    env = {**os.environ, **aws_env, "QUEUE_URL": names["queue"], "QUEUE_BATCH_SIZE": str(batch_size),
           "RESULTS_BUCKET": names["bucket"], "RESULTS_TOPIC_ARN": names["topic"], "MODEL_BACKEND": "http",
           "MODEL_URL": model_url, "MODEL_TIMEOUT_SECONDS": "10", "LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(PROJECT_ROOT), "HEALTH_FILE": str(LOG_DIR / "bench-worker.health")}
    consumer = LocalProcess.start([sys.executable, str(PROJECT_ROOT / "containers" / "inference" / "serve.py"), "work"],
                                  env, "bench-worker.log", cwd=PROJECT_ROOT / "containers" / "inference")
    try:
        send(clients, names, 10)  # warm-up: clients, connections, the model's first predictions
        wait_for(lambda: count(clients, names) >= 10, "the warm-up jobs", 120)
        sent = send(clients, names, jobs)
        wait_for(lambda: count(clients, names) >= 10 + jobs, f"{jobs} results", 600, pause=0.5)
    finally:
        consumer.stop()
    completed = {}
    for job_id in sent:
        document = json.loads(clients["s3"].get_object(Bucket=names["bucket"], Key=f"results/{job_id}.json")["Body"]
                              .read())
        completed[job_id] = datetime.fromisoformat(document["completed_at"]).timestamp()
    latencies = [completed[job_id] - sent[job_id] for job_id in sent]
    span = max(completed.values()) - min(sent.values())
    return {"jobs_per_second": jobs / span, "p50_ms": 1000 * percentile(latencies, 0.5),
            "p99_ms": 1000 * percentile(latencies, 0.99)}


def send(clients: dict, names: dict[str, str], jobs: int) -> dict[str, float]:
    """Send JOBS jobs, ten per SendMessageBatch; job id -> the wall-clock time its batch was sent."""
    sent = {}
    ids = [str(uuid.uuid4()) for _ in range(jobs)]
    for start in range(0, jobs, 10):
        batch = ids[start:start + 10]
        entries = [{"Id": str(i), "MessageBody": json.dumps({"job_id": job_id, "model": "iris", "priority": "normal",
                                                             "inputs": {"instances": [ROW]}})}
                   for i, job_id in enumerate(batch)]
        at = time.time()
        clients["sqs"].send_message_batch(QueueUrl=names["queue"], Entries=entries)
        sent.update(dict.fromkeys(batch, at))
    return sent


def count(clients: dict, names: dict[str, str]) -> int:
    paginator = clients["s3"].get_paginator("list_objects_v2")
    return sum(page.get("KeyCount", 0) for page in paginator.paginate(Bucket=names["bucket"], Prefix="results/"))


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", default="1,5,10")
    parser.add_argument("--model-workers", type=int, default=2)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min)", flush=True)
    emulator = start_emulator(reuse=False)
    model_server = ModelServer.start(workers=args.model_workers)
    model_url = model_server.url
    aws_env = {"AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
    clients = {name: boto3.client(name, endpoint_url=emulator.url, region_name=REGION, aws_access_key_id="test",
                                  aws_secret_access_key="test") for name in ("s3", "sqs", "sns")}
    results: dict[int, list[dict[str, float]]] = {size: [] for size in sizes}
    try:
        for round_ in range(1, args.rounds + 1):
            for size in sizes:
                figures = measure(clients, aws_env, model_url, size, args.jobs)
                results[size].append(figures)
                print(f"round {round_} batch {size:>2}: {figures['jobs_per_second']:6.1f} jobs/s, "
                      f"p50 {figures['p50_ms']:7.1f} ms, p99 {figures['p99_ms']:7.1f} ms", flush=True)
    finally:
        model_server.stop()
        emulator.stop()
    print(f"\n{args.jobs} jobs per measurement, {args.rounds} rounds, model server with {args.model_workers} workers; "
          f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"{'batch':>5} | {'jobs/s median (range)':>24} | {'p50 ms median (range)':>24} | {'p99 ms median (range)':>24}")
    for size, runs in results.items():
        cells = []
        for key in ("jobs_per_second", "p50_ms", "p99_ms"):
            values = [run[key] for run in runs]
            cells.append(f"{statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})")
        print(f"{size:>5} | " + " | ".join(f"{cell:>24}" for cell in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
