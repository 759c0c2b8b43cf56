"""Start, find and stop a local AWS emulator (a moto server) on loopback, and point Terraform at it.

Why: plans, applies and end-to-end tests need AWS APIs without an AWS account. moto's server mode answers the
AWS APIs over HTTP; Terraform's AWS provider reaches it through its `endpoints` block. One emulator is shared
by every tool that needs it: `python -m tools.emulator start` leaves one running and records it in
`.build/emulator.json`, and `start_emulator()` reuses that one (or the one `MOTO_ENDPOINT` names) when it
answers, so a test session and a deploy do not each pay the start-up or fight over ports.

The server binds 127.0.0.1 only: nothing here ever listens beyond the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from types import TracebackType

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / ".build"
STATE_FILE = BUILD_DIR / "emulator.json"
LOG_FILE = BUILD_DIR / "emulator.log"

LOOPBACK = "127.0.0.1"
ENDPOINT_ENV = "MOTO_ENDPOINT"
HEALTH_PATH = "/moto-api/"
RESET_PATH = "/moto-api/reset"
START_TIMEOUT_SECONDS = 30.0
# moto's server plus the SageMaker operations a model release needs (UpdateEndpoint ...) and repeated
# CreateFunction requests answered as the first: see that module.
SERVER_MODULE = "tools.emulator_server"

# Terraform AWS provider `endpoints` keys for every service the stacks use (or may use soon). Canonical key
# names only: the aliases (applicationautoscaling, cloudwatchlogs, elasticloadbalancingv2 ...) conflict with
# the canonical key when both are set.
EMULATED_SERVICES: tuple[str, ...] = (
    "apigateway",
    "apigatewayv2",
    "appautoscaling",
    "autoscaling",
    "cloudwatch",
    "dynamodb",
    "ec2",
    "ecr",
    "ecs",
    "efs",
    "elb",
    "elbv2",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "resourcegroupstaggingapi",
    "s3",
    "s3control",
    "sagemaker",
    "secretsmanager",
    "servicediscovery",
    "sns",
    "sqs",
    "ssm",
    "sts",
    "xray",
)

# moto accepts any credentials; these are the conventional placeholders (never real keys).
EMULATOR_ACCESS_KEY = "test"
EMULATOR_SECRET_KEY = "test"  # a placeholder the emulator accepts, not a secret


class EmulatorError(RuntimeError):
    """The emulator could not be started or reached; the message says why and what to do."""


@dataclass
class Emulator:
    """A running moto server. Only an emulator this process started (`owned`) is stopped by `stop()`."""

    url: str
    port: int
    pid: int | None = None
    owned: bool = False
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def is_healthy(self) -> bool:
        """True when the server answers its dashboard URL."""
        return answers(self.url)

    def reset(self) -> None:
        """Forget every emulated resource (moto's reset API): a clean account without a restart."""
        request = urllib.request.Request(self.url + RESET_PATH, method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        """Stop the server if this process started it; a reused emulator is left running for its owner."""
        if not self.owned:
            return
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        elif self.pid is not None:
            _terminate_pid(self.pid)
        self.owned = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def as_record(self) -> dict[str, Any]:
        """What `.build/emulator.json` holds about this emulator."""
        return {"url": self.url, "port": self.port, "pid": self.pid}


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when a moto server answers at URL (its `/moto-api/` dashboard returns 200)."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + HEALTH_PATH, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def is_loopback_url(url: str) -> bool:
    """True when URL's host is this machine (127.0.0.0/8, ::1 or localhost)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def url_for(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_moto_server(pid: int) -> bool:
    """True when PID is alive and runs moto's server: a stale record must never get another process killed
    (pids are reused). Where /proc is missing, a live pid is taken at its word."""
    if not _pid_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not Path("/proc/self").exists():
        return True
    try:
        command = cmdline.read_bytes()
    except OSError:
        return False
    return any(marker in command for marker in (b"moto.server", SERVER_MODULE.encode()))


def _terminate_pid(pid: int, timeout: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def read_record(state_file: Path = STATE_FILE) -> dict[str, Any] | None:
    """The recorded emulator, or None when there is no readable record."""
    try:
        record = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("port"), int) else None


def write_record(emulator: Emulator, state_file: Path = STATE_FILE) -> None:
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(emulator.as_record(), indent=2) + "\n")


def find_running(state_file: Path = STATE_FILE) -> Emulator | None:
    """An emulator that already answers: the one MOTO_ENDPOINT names, else the one recorded in STATE_FILE.

    A MOTO_ENDPOINT that does not answer is an error rather than a reason to start another one: whoever set
    it expects that server to be used.
    """
    explicit = os.environ.get(ENDPOINT_ENV)
    if explicit:
        url = explicit.rstrip("/")
        if not is_loopback_url(url):
            raise EmulatorError(f"{ENDPOINT_ENV}={explicit} is not on loopback: the emulator only runs on this machine")
        if not answers(url):
            raise EmulatorError(f"{ENDPOINT_ENV}={explicit} does not answer at {HEALTH_PATH}: start it or unset it")
        port = urllib.parse.urlsplit(url).port or 80
        return Emulator(url=url, port=port, owned=False)
    record = read_record(state_file)
    if record is None:
        return None
    pid = record.get("pid")
    url = record.get("url") or url_for(record["port"])
    if (pid is None or _is_moto_server(pid)) and answers(url):
        return Emulator(url=url, port=record["port"], pid=pid, owned=False)
    return None


def _spawn(port: int, *, detach: bool) -> subprocess.Popen[bytes]:
    """moto's server on loopback, with the operations tools/emulator_server.py adds (and repeated CreateFunction
    requests answered as the first); detached (own session, log file) when it must outlive us."""
    command = [sys.executable, "-m", SERVER_MODULE, "-H", LOOPBACK, "-p", str(port)]
    if detach:
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        with LOG_FILE.open("ab") as log:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=PROJECT_ROOT)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT)


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(f"moto server exited with code {process.returncode} before answering at {url} "
                                "(is moto[server] installed in this environment?)")
        if answers(url, timeout=1.0):
            return
        time.sleep(0.2)
    process.terminate()
    raise EmulatorError(f"moto server did not answer at {url}{HEALTH_PATH} within {timeout:.0f} s")


def start_emulator(port: int | None = None, *, reuse: bool = True, detach: bool = False,
                   state_file: Path = STATE_FILE, timeout: float = START_TIMEOUT_SECONDS) -> Emulator:
    """A running emulator: a healthy existing one when REUSE allows, else a new moto server on loopback.

    PORT pins the port of a new server (default: a free one). DETACH lets the server outlive this process
    (the CLI's `start`); otherwise it is this process's child and `stop()` or the context manager ends it.
    """
    if reuse:
        running = find_running(state_file)
        if running is not None and (port is None or running.port == port):
            return running
    chosen_port = port or free_loopback_port()
    url = url_for(chosen_port)
    if answers(url):
        raise EmulatorError(f"something already answers at {url}: choose another port")
    process = _spawn(chosen_port, detach=detach)
    _wait_until_healthy(process, url, timeout)
    return Emulator(url=url, port=chosen_port, pid=process.pid, owned=True, _process=process)


def terraform_provider_endpoints(url: str) -> dict[str, str]:
    """The AWS provider `endpoints` block sending every emulated service to URL."""
    return dict.fromkeys(EMULATED_SERVICES, url)


def provider_settings(url: str) -> dict[str, Any]:
    """Extra AWS provider arguments for the emulator (snake_case, as `AwsProvider(**...)` and Terraform JSON take).

    Fake credentials, no credential or account-id lookups (moto has no real STS behind it), no instance
    metadata probe, path-style S3 (bucket names do not resolve as loopback hostnames), every endpoint on URL.
    """
    return {
        "access_key": EMULATOR_ACCESS_KEY,
        "secret_key": EMULATOR_SECRET_KEY,
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": "true",
        "s3_use_path_style": True,
        "endpoints": [terraform_provider_endpoints(url)],
    }


def _cli_start(args: argparse.Namespace) -> int:
    running = find_running(args.state_file)
    if running is not None:
        print(f"emulator already running at {running.url}")
        return 0
    emulator = start_emulator(args.port, reuse=False, detach=True, state_file=args.state_file)
    write_record(emulator, args.state_file)
    print(f"emulator started at {emulator.url} (pid {emulator.pid}); log: {LOG_FILE}")
    return 0


def _cli_stop(args: argparse.Namespace) -> int:
    record = read_record(args.state_file)
    if record is None:
        print("no emulator recorded")
        return 0
    pid = record.get("pid")
    if isinstance(pid, int) and _is_moto_server(pid):
        _terminate_pid(pid)
        print(f"emulator stopped (pid {pid})")
    else:
        print("recorded emulator was not running")
    args.state_file.unlink(missing_ok=True)
    return 0


def _cli_status(args: argparse.Namespace) -> int:
    try:
        running = find_running(args.state_file)
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if running is None:
        print("no emulator running")
        return 1
    print(f"emulator running at {running.url}" + (f" (pid {running.pid})" if running.pid else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.emulator",
                                     description="Run a local AWS emulator (moto server) on loopback.")
    parser.add_argument("--state-file", type=Path, default=STATE_FILE,
                        help="where the running emulator is recorded (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start one in the background (or report the running one)")
    start.add_argument("--port", type=int, default=None, help="port to bind on 127.0.0.1 (default: a free one)")
    start.set_defaults(handler=_cli_start)
    commands.add_parser("stop", help="stop the recorded emulator").set_defaults(handler=_cli_stop)
    commands.add_parser("status", help="exit 0 when an emulator answers").set_defaults(handler=_cli_status)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
