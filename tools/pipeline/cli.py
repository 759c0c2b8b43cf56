"""`./pipeline`: submit jobs, read their results, call predict, and look after the work queues of an environment.

The same commands against both targets:
- local (default for an environment without allowed_account_ids): the emulator deployment of `make deploy-local`;
  the API routes and the queue consumers run the deployed functions' code in this process (tools/pipeline/local.py);
- aws: the deployed HTTP API (its URL and auth from the api stack's outputs, SigV4 with your AWS credentials or a
  bearer token), and the queues through SQS with your credentials.

Output is for people (progress on stderr while waiting) or, with --json, one JSON document on stdout for scripts.
Errors are one line on stderr. Exit codes: 0 done, 1 failed (the API, AWS or the deployment said no), 2 bad
usage or config, 3 the job failed, 4 still pending when --timeout ran out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.api_client import ApiCallError, ApiClient, ApiResponse
from tools.pipeline.deployment import TARGETS, Deployment, DeploymentError, aws_deployment, local_deployment

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_JOB_FAILED, EXIT_TIMEOUT = 0, 1, 2, 3, 4
DEFAULT_WAIT_SECONDS = 120.0
TOKEN_ENV = "PIPELINE_API_TOKEN"  # tools/api_client.py reads it too
API_URL_ENV = "PIPELINE_API_URL"
MODEL_URL_ENV = "PIPELINE_MODEL_URL"
FINISHED = ("succeeded", "failed")
PROGRESS_EVERY = 10.0  # seconds between progress lines in a log (not a terminal)


class UsageError(Exception):
    """The command line or an input file is wrong (exit 2)."""


class Failed(Exception):
    """The pipeline answered no (exit 1), already phrased as one line."""


# --- output ---------------------------------------------------------------------------------------------------


@dataclass
class Output:
    """Results to stdout (text, or one JSON document with --json); progress and notes to stderr."""

    json_mode: bool = False
    quiet: bool = False
    _last_key: str | None = None
    _last_line: float = 0.0
    _status: Any = field(default=None, repr=False)

    def note(self, message: str) -> None:
        if not self.json_mode and not self.quiet:
            self._clear_status()
            print(message, file=sys.stderr, flush=True)

    def progress(self, message: str, key: str | None = None) -> None:
        """A running status: a spinner on a terminal; in a log, a line when KEY (the state, default the message)
        changes, else every PROGRESS_EVERY seconds, so a long wait neither floods a CI log nor looks stuck."""
        if self.json_mode or self.quiet:
            return
        key = message if key is None else key
        if sys.stderr.isatty():
            if self._status is None:
                from rich.console import Console

                self._status = Console(stderr=True).status(message)
                self._status.start()
            else:
                self._status.update(message)
        elif key != self._last_key or time.monotonic() - self._last_line >= PROGRESS_EVERY:
            print(message, file=sys.stderr, flush=True)
            self._last_line = time.monotonic()
        self._last_key = key

    def _clear_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def result(self, document: Any, text: str | None = None) -> None:
        """The command's result: DOCUMENT as JSON with --json, else TEXT (or DOCUMENT pretty-printed)."""
        self._clear_status()
        if self.json_mode:
            print(json.dumps(document, indent=2))
        elif text is not None:
            print(text)
        else:
            print(json.dumps(document, indent=2))

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(str(cell) for cell in row))
        Console(width=int(os.environ.get("COLUMNS", "120")), highlight=False).print(table)

    def close(self) -> None:
        self._clear_status()


# --- the environment and its target ---------------------------------------------------------------------------


@dataclass
class Pipeline:
    """An environment's deployed pipeline: its API (HTTP or in-process) and its queues."""

    config: Any
    deployment: Deployment
    api: Any  # ApiClient or LocalApi: request(method, path, body) -> ApiResponse
    api_description: str
    out: Output
    api_url: str | None = None
    model: Any = None  # LocalModel (local target)
    worker: Any = None  # LocalWorker (local target)

    @property
    def local(self) -> bool:
        return self.deployment.target == "local"

    def sqs(self) -> Any:
        if self.local:
            from tools.pipeline.local import emulator_client

            return emulator_client(self.deployment, "sqs")
        import boto3

        return boto3.client("sqs", region_name=self.deployment.region)

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> ApiResponse:
        answer = self.api.request(method, path, body)
        if answer.status not in ok:
            raise Failed(f"{method} {path} answered {answer.status}: {error_text(answer.body)}")
        return answer

    def close(self) -> None:
        if self.model is not None:
            self.model.close()


def error_text(body: Any) -> str:
    """The API's error (`{"error", "field"}`, lambdas/http.py) with its field, else the body as it came."""
    if isinstance(body, dict) and "error" in body:
        return body["error"] + (f" (field {body['field']})" if body.get("field") else "")
    return json.dumps(body) if body is not None else "(no body)"


def header(answer: ApiResponse, name: str, default: str) -> str:
    return next((value for key, value in answer.headers.items() if key.lower() == name), default)


def open_pipeline(args: argparse.Namespace, out: Output) -> Pipeline:
    from modules.config import config_path_from_env, load_config

    environ = dict(os.environ)
    if args.env:  # --env wins over both variables
        environ.pop("PIPELINE_CONFIG", None)
        environ["PIPELINE_ENV"] = args.env
    config = load_config(config_path_from_env(environ))
    target = args.target or ("aws" if config.allowed_account_ids else "local")
    if target == "local":
        from tools.pipeline.local import HANDLER_LOG, LocalApi, LocalModel, LocalWorker

        deployment = local_deployment(config)
        model = LocalModel(url=args.model_url or os.environ.get(MODEL_URL_ENV), say=out.note)
        api = LocalApi(deployment=deployment, routes=config.api.lambda_routes(), model=model,
                       log=None if args.verbose else HANDLER_LOG)
        worker = LocalWorker(deployment=deployment, model=model, log=api.log)
        return Pipeline(config=config, deployment=deployment, api=api, api_description=api.describe(), out=out,
                        model=model, worker=worker)
    deployment = aws_deployment(config)
    url = args.api_url or os.environ.get(API_URL_ENV) or deployment.output("api_invoke_url")
    auth = deployment.outputs.get("api", {}).get("api_auth") or config.api.auth
    api = ApiClient(url, auth, config.region, token=args.token)  # the token defaults to PIPELINE_API_TOKEN
    return Pipeline(config=config, deployment=deployment, api=api, api_description=f"{url} (auth {auth})",
                    out=out, api_url=url)


# --- inputs ---------------------------------------------------------------------------------------------------


def read_json_argument(inline: str | None, path: str | None, what: str) -> Any:
    if (inline is None) == (path is None):
        raise UsageError(f"give the {what} inline (--inputs JSON) or in a file (--file PATH, - for stdin)")
    try:
        if inline is not None:
            return json.loads(inline)
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        return json.loads(text)
    except FileNotFoundError:
        raise UsageError(f"--file {path}: no such file") from None
    except ValueError as exc:
        raise UsageError(f"the {what} is not valid JSON: {exc}") from None


def as_inputs(value: Any) -> Any:
    """A bare list of feature rows becomes the model contract's {"instances": rows}; anything else is sent as is
    (the API's own validation answers for it)."""
    return {"instances": value} if isinstance(value, list) else value


def job_body(args: argparse.Namespace, pipeline: Pipeline) -> dict[str, Any]:
    if args.file is not None:
        document = read_json_argument(None, args.file, "job")
        if not isinstance(document, dict) or "inputs" not in document:
            raise UsageError(f"--file {args.file}: expected a job like "
                             '{"model": "iris", "inputs": {"instances": [[5.1, 3.5, 1.4, 0.2]]}, "priority": "normal"}')
        body = dict(document)
    else:
        body = {"inputs": as_inputs(read_json_argument(args.inputs, None, "inputs"))}
    if args.model:
        body["model"] = args.model
    body.setdefault("model", pipeline.config.inference.model_name)
    if args.priority:
        body["priority"] = args.priority
    return body


# --- jobs -----------------------------------------------------------------------------------------------------


def cmd_submit(args: argparse.Namespace, pipeline: Pipeline) -> int:
    answer = pipeline.call("POST", "/v1/jobs", job_body(args, pipeline), ok=(202,))
    job_id = answer.body["job_id"]
    if args.quiet:
        print(job_id, flush=True)
    elif not args.wait:
        pipeline.out.result(answer.body, f"job {job_id} accepted: {answer.body['status']}\n"
                                         f"  ./pipeline jobs wait {job_id}    # or: ./pipeline jobs get {job_id}")
    if not args.wait:
        return EXIT_OK
    pipeline.out.note(f"job {job_id} accepted: {answer.body['status']}")
    return wait_for(pipeline, job_id, args.timeout, quiet=args.quiet)


def cmd_get(args: argparse.Namespace, pipeline: Pipeline) -> int:
    answer = pipeline.call("GET", f"/v1/jobs/{args.job_id}", ok=(200, 202))
    return show_job(pipeline, answer.body)


def cmd_wait(args: argparse.Namespace, pipeline: Pipeline) -> int:
    return wait_for(pipeline, args.job_id, args.timeout)


def wait_for(pipeline: Pipeline, job_id: str, timeout: float, quiet: bool = False) -> int:
    """Poll the job's status until it is finished; locally, run the queue consumers between polls."""
    began = time.monotonic()
    processed = 0
    while True:
        answer = pipeline.call("GET", f"/v1/jobs/{job_id}", ok=(200, 202))
        status = answer.body.get("status", "pending")
        waited = time.monotonic() - began
        if answer.status == 200 and status in FINISHED:
            return show_job(pipeline, answer.body, waited, quiet=quiet)
        if waited > timeout:
            pipeline.out.result({**answer.body, "timed_out_after_seconds": round(waited, 1)},
                                None if quiet else f"job {job_id} still {status} after {waited:.0f} s")
            return EXIT_TIMEOUT
        extra = f", {processed} message(s) processed here" if pipeline.local else ""
        pipeline.out.progress(f"waiting for job {job_id}: {status} ({waited:.0f} s{extra})", key=status)
        if pipeline.local:
            report = pipeline.worker.run_once(wait_seconds=1)
            processed += report.received
        else:
            time.sleep(min(float(header(answer, "retry-after", "1") or 1), 5.0))


def show_job(pipeline: Pipeline, document: dict[str, Any], waited: float | None = None, quiet: bool = False) -> int:
    status = document.get("status", "pending")
    took = f" after {waited:.1f} s" if waited is not None else ""
    if quiet:
        pipeline.out.close()
    else:
        text = f"job {document.get('job_id')}: {status}{took}"
        if status == "succeeded":
            text += "\n" + json.dumps(document.get("result"), indent=2)
        elif status == "failed":
            text += f"\n{document.get('error', '')}"
        pipeline.out.result(document, text)
    return EXIT_JOB_FAILED if status == "failed" else EXIT_OK


# --- predict --------------------------------------------------------------------------------------------------


def cmd_predict(args: argparse.Namespace, pipeline: Pipeline) -> int:
    body = as_inputs(read_json_argument(args.inputs, args.file, "inputs"))
    answer = pipeline.call("POST", "/v1/predict", body)
    predictions = answer.body.get("predictions", []) if isinstance(answer.body, dict) else []
    lines = [f"{len(predictions)} prediction(s), model {answer.body.get('model_version', '?')}:"]
    for index, prediction in enumerate(predictions):
        label = prediction.get("label", prediction) if isinstance(prediction, dict) else prediction
        score = (prediction.get("probabilities") or {}).get(label) if isinstance(prediction, dict) else None
        lines.append(f"  instances[{index}]: {label}" + (f" ({score:.3f})" if isinstance(score, float) else ""))
    pipeline.out.result(answer.body, "\n".join(lines))
    return EXIT_OK


# --- queues ---------------------------------------------------------------------------------------------------


def _queues(pipeline: Pipeline, name: str | None = None) -> tuple:
    if not pipeline.deployment.queues:
        raise Failed(f"no work queue outputs in {pipeline.deployment.source}; is the messaging stack deployed?")
    return (pipeline.deployment.queue(name),) if name else pipeline.deployment.queues


def cmd_queues(args: argparse.Namespace, pipeline: Pipeline) -> int:
    from tools.pipeline.queues import depths

    rows = depths(pipeline.sqs(), _queues(pipeline))
    if pipeline.out.json_mode:
        pipeline.out.result({"queues": [row.as_dict() for row in rows]})
    else:
        pipeline.out.table(f"{pipeline.config.name_prefix} work queues ({pipeline.deployment.target})",
                           ["queue", "waiting", "in flight", "delayed", "dead letters"],
                           [[r.queue, r.visible, r.in_flight, r.delayed, r.dead_letters + r.dead_letters_in_flight]
                            for r in rows])
    return EXIT_OK


def cmd_dlq_list(args: argparse.Namespace, pipeline: Pipeline) -> int:
    from tools.pipeline.queues import peek

    sqs = pipeline.sqs()
    report = []
    for queue in _queues(pipeline, args.queue):
        letters = peek(sqs, queue.dead_letter_url, args.max)
        report.append({"queue": queue.name, "dead_letter_queue_url": queue.dead_letter_url,
                       "messages": [letter.as_dict() for letter in letters]})
        if not pipeline.out.json_mode:
            pipeline.out.table(f"{queue.name}: {len(letters)} dead letter(s)" + (f" (first {args.max})"
                                                                                 if len(letters) == args.max else ""),
                               ["message", "job", "model", "priority", "receives", "sent"],
                               [[lt.message_id, lt.job_id or "?", lt.model or "?", lt.priority or "?",
                                 lt.receive_count, lt.sent_at] for lt in letters])
    if pipeline.out.json_mode:
        pipeline.out.result({"dead_letter_queues": report})
    elif any(entry["messages"] for entry in report):
        pipeline.out.note("after fixing the cause: ./pipeline dlq redrive <queue>")
    return EXIT_OK


def cmd_dlq_redrive(args: argparse.Namespace, pipeline: Pipeline) -> int:
    from tools.pipeline.queues import redrive_by_copy, redrive_with_move_task

    queue = pipeline.deployment.queue(args.queue)
    redrive = redrive_by_copy if pipeline.local else redrive_with_move_task  # moto lacks StartMessageMoveTask
    moved = redrive(pipeline.sqs(), queue, pipeline.out.progress)
    text = f"moved {moved} message(s) from {queue.name}'s dead-letter queue back to {queue.name}"
    if pipeline.local and moved:
        text += "\n  ./pipeline work    # the emulator runs no consumers: this runs them"
    pipeline.out.result({"queue": queue.name, "moved": moved,
                         "method": "copy" if pipeline.local else "StartMessageMoveTask"}, text)
    return EXIT_OK


def cmd_work(args: argparse.Namespace, pipeline: Pipeline) -> int:
    """Run the queue consumers until every work queue is empty (local only)."""
    from tools.pipeline.queues import depths

    if not pipeline.local:
        raise UsageError("`work` runs the queue consumers on the emulator; on AWS the deployed consumers do it")
    began = time.monotonic()
    totals = {"received": 0, "succeeded": 0, "failed": 0}
    unconsumed: set[str] = set()
    sqs = pipeline.sqs()
    while True:
        report = pipeline.worker.run_once(wait_seconds=1)
        for key in totals:
            totals[key] += getattr(report, key)
        unconsumed.update(report.unconsumed)
        pending = sum(row.visible + row.in_flight + row.delayed for row in depths(sqs, pipeline.deployment.queues)
                      if row.queue not in unconsumed)
        waited = time.monotonic() - began
        if pending == 0 or waited > args.timeout:
            break
        pipeline.out.progress(f"working the queues: {totals['succeeded']} succeeded, {totals['failed']} failed "
                              f"(retried until max_receive_count, then dead-lettered), {pending} left ({waited:.0f} s)",
                              key=f"{totals['succeeded']}/{totals['failed']}")
    document = {**totals, "left": pending, "seconds": round(time.monotonic() - began, 1),
                "unconsumed_queues": sorted(unconsumed)}
    text = (f"processed {totals['received']} message(s): {totals['succeeded']} succeeded, {totals['failed']} failed"
            + (f"; {pending} still in the queues after {args.timeout:.0f} s" if pending else "; the queues are empty"))
    pipeline.out.result(document, text)
    return EXIT_OK if pending == 0 else EXIT_TIMEOUT


# --- info -----------------------------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace, pipeline: Pipeline) -> int:
    deployment = pipeline.deployment
    document = {
        "environment": deployment.environment, "target": deployment.target, "region": deployment.region,
        "accounts": list(pipeline.config.allowed_account_ids) or ["the emulator's"],
        "api": pipeline.api_description, "api_url": pipeline.api_url,
        "emulator_url": deployment.emulator_url, "state": deployment.source,
        "queues": [{"name": q.name, "url": q.url, "dead_letter_url": q.dead_letter_url} for q in deployment.queues],
    }
    if args.get:
        if document.get(args.get) is None:
            raise Failed(f"no {args.get} for the {deployment.target} target; fields: "
                         + ", ".join(name for name, value in document.items() if isinstance(value, str)))
        print(document[args.get])
        return EXIT_OK
    lines = [f"environment {document['environment']} ({document['target']}), region {document['region']}, "
             f"account(s) {', '.join(document['accounts'])}",
             f"API: {document['api']}", f"outputs from {document['state']}"]
    lines += [f"queue {q['name']}: {q['url']} (dead letters: {q['dead_letter_url']})" for q in document["queues"]]
    pipeline.out.result(document, "\n".join(lines))
    return EXIT_OK


# --- command line ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a global option may come before or after the command, and the later one wins.
    common.add_argument("--env", default=argparse.SUPPRESS,
                        help="environment (config/<env>.toml); default: PIPELINE_ENV, else local")
    common.add_argument("--target", choices=TARGETS, default=argparse.SUPPRESS,
                        help="local: the emulator deployment (default without allowed_account_ids); aws: the "
                             "deployed API and queues (default with them)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="one JSON document on stdout, for scripts")
    common.add_argument("--api-url", default=argparse.SUPPRESS,
                        help=f"aws: the API's URL (default: {API_URL_ENV}, else the api stack's api_invoke_url)")
    common.add_argument("--token", default=argparse.SUPPRESS,
                        help=f"aws, auth = jwt: the bearer token (default: {TOKEN_ENV})")
    common.add_argument("--model-url", default=argparse.SUPPRESS,
                        help=f"local: the model server to call (default: {MODEL_URL_ENV}, else `make serve-model`'s "
                             "on 127.0.0.1:8080 when it answers, else one started for the command)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="local: the handlers' log lines on stderr (default: .build/pipeline/handlers.log)")

    parser = argparse.ArgumentParser(prog="./pipeline", parents=[common], description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent: Any, name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    jobs = commands.add_parser("jobs", help="submit a job, read or wait for its result").add_subparsers(
        dest="jobs_command", required=True, metavar="ACTION")
    submit = command(jobs, "submit", cmd_submit, "POST /v1/jobs: submit a job (202), optionally wait for its result")
    given = submit.add_mutually_exclusive_group(required=True)
    given.add_argument("--inputs", help='inline inputs: {"instances": [[...], ...]} or just [[...], ...]')
    given.add_argument("--file", help="a job document as POST /v1/jobs takes it (examples/job.json); - for stdin")
    submit.add_argument("--model", help="routes the job (default: the file's, else inference.model_name)")
    submit.add_argument("--priority", choices=("normal", "high"), help="default: the file's, else normal")
    submit.add_argument("--wait", action="store_true", help="wait for the result, with progress")
    submit.add_argument("--timeout", type=float, default=DEFAULT_WAIT_SECONDS, help="seconds to wait (default 120)")
    submit.add_argument("-q", "--quiet", action="store_true", help="print only the job id (JOB=$(./pipeline ...))")
    get = command(jobs, "get", cmd_get, "GET /v1/jobs/{id}: the job's status, and its result once finished")
    get.add_argument("job_id")
    wait = command(jobs, "wait", cmd_wait, "wait until the job is finished, then print its result")
    wait.add_argument("job_id")
    wait.add_argument("--timeout", type=float, default=DEFAULT_WAIT_SECONDS, help="seconds to wait (default 120)")

    predict = command(commands, "predict", cmd_predict, "POST /v1/predict: a synchronous prediction")
    given = predict.add_mutually_exclusive_group(required=True)
    given.add_argument("--inputs", help='{"instances": [[...], ...]} or just [[...], ...]')
    given.add_argument("--file", help="a request as POST /v1/predict takes it (examples/predict.json); - for stdin")

    command(commands, "queues", cmd_queues, "depth of every work queue and its dead-letter queue")
    dlq = commands.add_parser("dlq", help="what is in the dead-letter queues, and redrive").add_subparsers(
        dest="dlq_command", required=True, metavar="ACTION")
    listing = command(dlq, "list", cmd_dlq_list, "the messages in each dead-letter queue (left in place)")
    listing.add_argument("queue", nargs="?", help="one work queue (default: all)")
    listing.add_argument("--max", type=int, default=10, help="messages shown per queue (default 10)")
    redrive = command(dlq, "redrive", cmd_dlq_redrive,
                      "move a dead-letter queue's messages back to its work queue, after fixing the cause")
    redrive.add_argument("queue", help="the work queue (config name, e.g. default)")

    work = command(commands, "work", cmd_work, "local: run the queue consumers until the work queues are empty")
    work.add_argument("--timeout", type=float, default=DEFAULT_WAIT_SECONDS, help="seconds at most (default 120)")
    info = command(commands, "info", cmd_info, "where the environment's pipeline is: target, region, API, queues")
    info.add_argument("--get", metavar="FIELD", help="print one field only (region, api_url, emulator_url, ...)")
    return parser


def _defaults(args: argparse.Namespace) -> argparse.Namespace:
    for name, value in (("env", None), ("target", None), ("json", False), ("api_url", None), ("token", None),
                        ("model_url", None), ("verbose", False), ("quiet", False)):
        if not hasattr(args, name):
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    args = _defaults(build_parser().parse_args(argv))
    out = Output(json_mode=args.json, quiet=args.quiet)
    pipeline = None
    try:
        pipeline = open_pipeline(args, out)
        return int(args.handler(args, pipeline))
    except UsageError as exc:
        return _error(out, str(exc), EXIT_USAGE)
    except (Failed, DeploymentError, ApiCallError) as exc:
        return _error(out, str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        return _error(out, "interrupted", EXIT_FAILED)
    except Exception as exc:  # config, AWS and emulator errors: one line, no traceback
        return _error(out, *_explain(exc))
    finally:
        if pipeline is not None:
            pipeline.close()
        out.close()


def _explain(exc: Exception) -> tuple[str, int]:
    from botocore.exceptions import BotoCoreError, ClientError

    from modules.config import ConfigError

    if isinstance(exc, ConfigError):
        return str(exc), EXIT_USAGE
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{exc.operation_name}: {error.get('Code')}: {error.get('Message')}", EXIT_FAILED
    if isinstance(exc, BotoCoreError | RuntimeError):
        return str(exc), EXIT_FAILED
    raise exc


def _error(out: Output, message: str, code: int) -> int:
    out.close()
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return code
