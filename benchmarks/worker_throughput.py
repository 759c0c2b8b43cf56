"""Jobs per second and job latency per task of the queue consumer against per instance of the worker function.

The two consumers of a work queue, on the same model server, emulator and job documents:
- `consumer`: the container's queue consumer (`serve.py work`) as its own process, exactly as the image runs it
  (one task);
- `function`: the worker function (`lambdas/worker/handler.py`) in its own process, driven the way Lambda's SQS
  event source mapping drives one concurrent execution: long-poll ReceiveMessage for up to the batch size, one
  `handler(event, context)` call at a time with the event the mapping builds, then DeleteMessageBatch for the
  records the handler did not report in `batchItemFailures` (ReportBatchItemFailures).

Everything on loopback: a moto server for the queue, bucket and topic; the image's model server (gunicorn, the
real example model). Each measurement sends JOBS jobs to the queue at once and waits for all their results; a
job's latency runs from its send to the `completed_at` of its result document (queueing, the receive, the model
call, the result's write and announcement). Consumers and batch sizes (QUEUE_BATCH_SIZE; the event source
mapping's batch size for the function) are interleaved over the rounds, so drifting load hits them alike; medians
and ranges are reported, with the ratio consumer/function per batch size. Run it when `uptime` shows a load
average under 1.5.

usage: python benchmarks/worker_throughput.py [--jobs 200] [--rounds 3] [--batch-sizes 1,5,10] [--model-workers 2]
                                              [--consumers consumer,function]
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

from lambdas import contract  # noqa: E402
from modules.limits import LAMBDA_TIMEOUT  # noqa: E402
from tools.emulator import start_emulator  # noqa: E402
from tools.local.smoke import LOG_DIR, LocalProcess, ModelServer, wait_for  # noqa: E402

REGION = "us-east-1"
ROW = [5.1, 3.5, 1.4, 0.2]
CONSUMERS = ("consumer", "function")
FUNCTION_DRIVER_FLAG = "--drive-function"  # the child process that stands in for the event source mapping


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def resources(clients: dict, run: str) -> dict[str, str]:
    bucket = f"bench-{run}"
    clients["s3"].create_bucket(Bucket=bucket)
    dead = clients["sqs"].create_queue(QueueName=f"bench-{run}-dlq")["QueueUrl"]
    dead_arn = clients["sqs"].get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = clients["sqs"].create_queue(
        QueueName=f"bench-{run}",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    topic = clients["sns"].create_topic(Name=f"bench-{run}-results")["TopicArn"]
    return {"bucket": bucket, "queue": queue, "topic": topic}


def measure(
    clients: dict, aws_env: dict[str, str], model_url: str, kind: str, batch_size: int, jobs: int
) -> dict[str, float]:
    """One measurement of consumer KIND ("consumer" or "function") at BATCH_SIZE on fresh resources."""
    names = resources(clients, uuid.uuid4().hex[:8])
    # What the compute stack sets on both (modules/stacks/compute.py); the function ignores QUEUE_BATCH_SIZE and
    # HEALTH_FILE, its driver reads the batch size as the event source mapping's.
    env = {
        **os.environ,
        **aws_env,
        contract.QUEUE_URL: names["queue"],
        contract.QUEUE_BATCH_SIZE: str(batch_size),
        contract.RESULTS_BUCKET: names["bucket"],
        contract.RESULTS_TOPIC_ARN: names["topic"],
        contract.MODEL_BACKEND: contract.BACKEND_HTTP,
        contract.MODEL_URL: model_url,
        contract.MODEL_TIMEOUT_SECONDS: str(contract.DEFAULT_MODEL_TIMEOUT_SECONDS),
        contract.LOG_LEVEL: "WARNING",
        "PYTHONPATH": str(PROJECT_ROOT),
        "HEALTH_FILE": str(LOG_DIR / "bench-worker.health"),
    }
    if kind == "consumer":
        command = [sys.executable, str(PROJECT_ROOT / "containers" / "inference" / "serve.py"), contract.WORK_COMMAND]
        cwd = PROJECT_ROOT / "containers" / "inference"
    else:
        command, cwd = [sys.executable, str(Path(__file__).resolve()), FUNCTION_DRIVER_FLAG], PROJECT_ROOT
    consumer = LocalProcess.start(command, env, f"bench-worker-{kind}.log", cwd=cwd)
    try:
        send(clients, names, 10)  # warm-up: clients, connections, the model's first predictions
        wait_for(lambda: count(clients, names) >= 10, "the warm-up jobs", 120)
        sent = send(clients, names, jobs)
        wait_for(lambda: count(clients, names) >= 10 + jobs, f"{jobs} results", 600, pause=0.5)
    finally:
        consumer.stop()
    completed = {}
    for job_id in sent:
        document = json.loads(
            clients["s3"].get_object(Bucket=names["bucket"], Key=f"results/{job_id}.json")["Body"].read()
        )
        completed[job_id] = datetime.fromisoformat(document["completed_at"]).timestamp()
    latencies = [completed[job_id] - sent[job_id] for job_id in sent]
    span = max(completed.values()) - min(sent.values())
    return {
        "jobs_per_second": jobs / span,
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
    }


def send(clients: dict, names: dict[str, str], jobs: int) -> dict[str, float]:
    """Send JOBS jobs, ten per SendMessageBatch; job id -> the wall-clock time its batch was sent."""
    sent = {}
    ids = [str(uuid.uuid4()) for _ in range(jobs)]
    for start in range(0, jobs, 10):
        batch = ids[start : start + 10]
        entries = [
            {
                "Id": str(i),
                "MessageBody": json.dumps(
                    {"job_id": job_id, "model": "iris", "priority": "normal", "inputs": {"instances": [ROW]}}
                ),
            }
            for i, job_id in enumerate(batch)
        ]
        at = time.time()
        clients["sqs"].send_message_batch(QueueUrl=names["queue"], Entries=entries)
        sent.update(dict.fromkeys(batch, at))
    return sent


def drive_function() -> int:
    """One concurrent execution of the worker function fed as Lambda's SQS event source mapping feeds it, until
    SIGTERM (whose default action ends the process: like the mapping, it has nothing to hand back)."""
    import boto3

    # Imported in this process only: its cached clients and connections then live from one invocation to the
    # next, as in a warm Lambda execution environment.
    from lambdas.worker.handler import handler
    from tools.lambda_events import sqs_event
    from tools.pipeline.deployment import Runtime
    from tools.pipeline.local import LambdaContext

    queue_url = os.environ[contract.QUEUE_URL]
    batch_size = int(os.environ[contract.QUEUE_BATCH_SIZE])
    # The deadline only decides which records are deferred to a later invocation, never how fast a job runs:
    # the longest timeout Lambda allows, so none is deferred and both consumers do the same work.
    function = Runtime(name="worker", kind="function", environment={}, timeout_seconds=LAMBDA_TIMEOUT.value)
    sqs = boto3.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(batch_size, 10),
            WaitTimeSeconds=contract.LONG_POLL_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            continue
        outcome = handler(sqs_event(messages, queue_arn, os.environ["AWS_REGION"]), LambdaContext(function))
        failed = {item["itemIdentifier"] for item in outcome.get("batchItemFailures", [])}
        # The mapping deletes the rest; the failed stay invisible until their visibility timeout ends.
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )


def count(clients: dict, names: dict[str, str]) -> int:
    paginator = clients["s3"].get_paginator("list_objects_v2")
    return sum(page.get("KeyCount", 0) for page in paginator.paginate(Bucket=names["bucket"], Prefix="results/"))


def main(argv: list[str] | None = None) -> int:
    import boto3

    if (argv if argv is not None else sys.argv[1:]) == [FUNCTION_DRIVER_FLAG]:
        return drive_function()

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", default="1,5,10")
    parser.add_argument("--model-workers", type=int, default=2)
    parser.add_argument("--consumers", default=",".join(CONSUMERS), help="which of consumer,function to measure")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    kinds = [kind for kind in args.consumers.split(",") if kind]
    if unknown := sorted(set(kinds) - set(CONSUMERS)):
        parser.error(f"--consumers: unknown {', '.join(unknown)}; allowed: {', '.join(CONSUMERS)}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min)", flush=True)
    emulator = start_emulator(reuse=False)
    model_server = ModelServer.start(workers=args.model_workers)
    model_url = model_server.url
    aws_env = {
        "AWS_ENDPOINT_URL": emulator.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    clients = {
        name: boto3.client(
            name, endpoint_url=emulator.url, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
        )
        for name in ("s3", "sqs", "sns")
    }
    results: dict[tuple[str, int], list[dict[str, float]]] = {(kind, size): [] for size in sizes for kind in kinds}
    try:
        for round_ in range(1, args.rounds + 1):
            # Alternate which consumer goes first, so neither always runs on the warmer (or busier) machine.
            order = kinds if round_ % 2 else kinds[::-1]
            for size in sizes:
                for kind in order:
                    figures = measure(clients, aws_env, model_url, kind, size, args.jobs)
                    results[kind, size].append(figures)
                    print(
                        f"round {round_} {kind:<8} batch {size:>2}: {figures['jobs_per_second']:6.1f} jobs/s, "
                        f"p50 {figures['p50_ms']:7.1f} ms, p99 {figures['p99_ms']:7.1f} ms",
                        flush=True,
                    )
    finally:
        model_server.stop()
        emulator.stop()
    print(
        f"\n{args.jobs} jobs per measurement, {args.rounds} rounds, model server with {args.model_workers} workers; "
        f"load average after: {os.getloadavg()[0]:.2f}"
    )
    print("consumer: one queue consumer process (a task); function: one concurrent execution of the worker function")
    print(
        f"{'consumer':<8} | {'batch':>5} | {'jobs/s median (range)':>24} | {'p50 ms median (range)':>24} | "
        f"{'p99 ms median (range)':>24}"
    )
    for (kind, size), runs in sorted(results.items(), key=lambda item: (item[0][1], kinds.index(item[0][0]))):
        cells = []
        for key in ("jobs_per_second", "p50_ms", "p99_ms"):
            values = [run[key] for run in runs]
            cells.append(f"{statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})")
        print(f"{kind:<8} | {size:>5} | " + " | ".join(f"{cell:>24}" for cell in cells))
    if set(CONSUMERS) <= set(kinds):
        print("\nratio consumer/function (medians; jobs/s above 1 and latency below 1 favour the consumer)")
        print(f"{'batch':>5} | {'jobs/s':>7} | {'p50':>7} | {'p99':>7}")
        for size in sizes:
            ratios = [
                statistics.median(run[key] for run in results["consumer", size])
                / statistics.median(run[key] for run in results["function", size])
                for key in ("jobs_per_second", "p50_ms", "p99_ms")
            ]
            print(f"{size:>5} | " + " | ".join(f"{ratio:7.2f}" for ratio in ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
