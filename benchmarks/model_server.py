"""The model server against the servers users would pick instead, side by side on this machine (measured, never asserted).

Every server loads the same example model (trained once into a temporary directory) with the same worker count:
  project       serve.py -> gunicorn, exactly as the image starts it
  fastapi       FastAPI + uvicorn (uvloop, httptools)    benchmarks/peers/fastapi_app.py
  flask-sync    Flask under gunicorn sync workers        benchmarks/peers/flask_app.py (AWS's SageMaker sklearn way)
  flask-gevent  Flask under gunicorn gevent workers      benchmarks/peers/flask_app.py
  baseline      with --baseline DIR: the server of another checkout (say `git archive main | tar -x -C DIR`)

First every server must return the same predictions for the iris data set (labels equal, probabilities within
1e-6). Then one load generator, wrk with one thread, drives POST /invocations over loopback keep-alive connections
in each cell (rows per request x connections; "ALB" is a few long-lived connections, the way an ALB holds them).
Each repetition runs every cell on every server, in a rotated order, before the next repetition starts, so slow
phases of a shared machine spread over all servers. Printed: requests/s median (min-max), p50 and p99 latency
medians, project/peer ratios per cell, each server's peak memory (PSS over its processes), and the load average.

usage: python benchmarks/model_server.py [--reps 3] [--duration 6] [--workers N] [--servers project,fastapi,...]
                                         [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = REPO_ROOT / "benchmarks" / "peers"
sys.path.insert(0, str(REPO_ROOT))

from containers.inference import train  # noqa: E402

IRIS_ROWS = ([5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5])
PROJECT = "project"
PROBABILITY_TOLERANCE = 1e-6
STARTUP_SECONDS = 90.0
# After /ping answers, every worker of a server must have loaded the model too (pings reach only one of them).
SETTLE_SECONDS = 3.0
WARMUP_SECONDS = 2


@dataclass(frozen=True)
class Cell:
    rows: int
    connections: int
    label: str = ""

    @property
    def name(self) -> str:
        shape = f"{self.rows} row{'s' if self.rows > 1 else ''}, {self.connections} conns"
        return f"{shape} ({self.label})" if self.label else shape


CELLS = (
    Cell(1, 8),
    Cell(1, 32),
    Cell(100, 8),
    Cell(100, 32),
    Cell(1, 4, "ALB"),
)


@dataclass(frozen=True)
class ServerSpec:
    name: str
    command: Callable[[int, int], list[str]]  # (port, workers) -> argv
    cwd: Path = REPO_ROOT


def python_module(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def project_command(serve_script: Path) -> Callable[[int, int], list[str]]:
    def command(port: int, workers: int) -> list[str]:
        return [sys.executable, str(serve_script), "serve", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers)]  # fmt: skip

    return command


def gunicorn_flask(worker_class: str) -> Callable[[int, int], list[str]]:
    def command(port: int, workers: int) -> list[str]:
        return python_module("gunicorn", "--chdir", str(PEERS_DIR), "-w", str(workers), "-k", worker_class,
                             "-b", f"127.0.0.1:{port}", "flask_app:app")  # fmt: skip

    return command


def uvicorn_fastapi(port: int, workers: int) -> list[str]:
    return python_module("uvicorn", "fastapi_app:app", "--app-dir", str(PEERS_DIR), "--workers", str(workers),
                         "--host", "127.0.0.1", "--port", str(port))  # fmt: skip


def server_specs(baseline: Path | None) -> dict[str, ServerSpec]:
    specs = [
        ServerSpec(PROJECT, project_command(REPO_ROOT / "containers" / "inference" / "serve.py")),
        ServerSpec("fastapi", uvicorn_fastapi),
        ServerSpec("flask-sync", gunicorn_flask("sync")),
        ServerSpec("flask-gevent", gunicorn_flask("gevent")),
    ]
    if baseline is not None:
        serve = baseline.resolve() / "containers" / "inference" / "serve.py"
        if not serve.is_file():
            sys.exit(f"--baseline {baseline}: no {serve}")
        specs.append(ServerSpec("baseline", project_command(serve), cwd=baseline.resolve()))
    return {spec.name: spec for spec in specs}


@dataclass
class RunningServer:
    spec: ServerSpec
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    peak_pss_kb: int = 0

    def pids(self) -> list[int]:
        """Every process of the server: they share the process group its session leader started."""
        found = subprocess.run(["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in found.split()]

    def sample_memory(self) -> None:
        """Proportional set size: pages shared by forked workers count once, so servers compare fairly."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        self.peak_pss_kb = max(self.peak_pss_kb, total)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def started(spec: ServerSpec, workers: int, model_dir: Path, scratch: Path) -> Iterator[RunningServer]:
    port = free_port()
    log_path = scratch / f"{spec.name}.log"
    env = dict(os.environ, MODEL_DIR=str(model_dir))
    with log_path.open("wb") as log:
        process = subprocess.Popen(spec.command(port, workers), cwd=spec.cwd, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    server = RunningServer(spec, process, f"http://127.0.0.1:{port}", log_path)
    try:
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"{server.spec.name} exited with {server.process.returncode}:\n{server.log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    sys.exit(f"{server.spec.name} not ready after {STARTUP_SECONDS:.0f}s:\n{server.log_path.read_text()}")


def predictions(server: RunningServer, rows: list[list[float]]) -> list[dict]:
    request = urllib.request.Request(f"{server.url}/invocations", data=json.dumps({"instances": rows}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["predictions"]


def differences(expected: list[dict], actual: list[dict]) -> list[str]:
    if len(expected) != len(actual):
        return [f"{len(actual)} predictions instead of {len(expected)}"]
    problems = []
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        same_probabilities = want["probabilities"].keys() == got["probabilities"].keys() and all(
            abs(p - got["probabilities"][label]) <= PROBABILITY_TOLERANCE for label, p in want["probabilities"].items()
        )
        if want["label"] != got["label"] or not same_probabilities:
            problems.append(f"row {index}: {got} instead of {want}")
    return problems


def check_same_predictions(servers: list[RunningServer]) -> str:
    from sklearn.datasets import load_iris

    rows = load_iris().data.tolist()
    reference = predictions(servers[0], rows)
    for server in servers[1:]:
        problems = differences(reference, predictions(server, rows))
        if problems:
            sys.exit(
                f"{server.spec.name} predicts differently from {servers[0].spec.name}:\n" + "\n".join(problems[:5])
            )
    return f"predictions: the same from all {len(servers)} servers ({len(rows)} iris rows, labels and probabilities)"


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {{"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "socket_errors": %d, "http_errors": %d}}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    load_generator_cpu: float  # share of one CPU wrk used


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(url: str, cell: Cell, seconds: int, scripts: Path) -> Sample:
    script = scripts / f"rows-{cell.rows}.lua"
    if not script.exists():
        body = json.dumps({"instances": [IRIS_ROWS[i % len(IRIS_ROWS)] for i in range(cell.rows)]})
        script.write_text(WRK_SCRIPT.format(body=body))
    command = ["wrk", "-t1", f"-c{cell.connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
               f"{url}/invocations"]  # fmt: skip
    cpu_before = children_cpu_seconds()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(output.split("WRK ", 1)[1].splitlines()[0])
    return Sample(
        rps=result["requests"] / result["seconds"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        errors=result["socket_errors"] + result["http_errors"],
        load_generator_cpu=(children_cpu_seconds() - cpu_before) / result["seconds"],
    )


@dataclass
class Results:
    samples: dict[tuple[Cell, str], list[Sample]] = field(default_factory=dict)

    def add(self, cell: Cell, server: str, sample: Sample) -> None:
        self.samples.setdefault((cell, server), []).append(sample)

    def median_rps(self, cell: Cell, server: str) -> float:
        return statistics.median(s.rps for s in self.samples[(cell, server)])

    def median_p99(self, cell: Cell, server: str) -> float:
        return statistics.median(s.p99_ms for s in self.samples[(cell, server)])


def rotated(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


def load_average() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def table(results: Results, servers: list[RunningServer], cells: tuple[Cell, ...]) -> str:
    names = [server.spec.name for server in servers]
    lines = [
        f"{'cell':24} {'server':13} {'req/s median (min-max)':>26} {'p50 ms':>7} {'p99 ms (min-max)':>20} {'errors':>6}"
    ]
    for cell in cells:
        for index, name in enumerate(names):
            samples = results.samples[(cell, name)]
            rps = [s.rps for s in samples]
            p99 = [s.p99_ms for s in samples]
            lines.append(
                f"{cell.name if index == 0 else '':24} {name:13} "
                f"{f'{statistics.median(rps):,.0f} ({min(rps):,.0f}-{max(rps):,.0f})':>26} "
                f"{statistics.median(s.p50_ms for s in samples):7.1f} "
                f"{f'{statistics.median(p99):.1f} ({min(p99):.1f}-{max(p99):.1f})':>20} "
                f"{sum(s.errors for s in samples):6d}"
            )
    peers = [name for name in names if name != PROJECT]
    if PROJECT in names and peers:
        lines += ["", "project / peer, per cell: requests/s ratio (p99 ratio; below 1 is better)"]
        lines.append(f"{'cell':24} " + " ".join(f"{name:>18}" for name in peers))
        for cell in cells:
            ratios = []
            for name in peers:
                rps = results.median_rps(cell, PROJECT) / results.median_rps(cell, name)
                p99 = results.median_p99(cell, PROJECT) / results.median_p99(cell, name)
                ratios.append(f"{f'{rps:.2f}x (p99 {p99:.2f})':>18}")
            lines.append(f"{cell.name:24} " + " ".join(ratios))
    lines += ["", "peak memory (PSS summed over each server's processes): " + ", ".join(
        f"{server.spec.name} {server.peak_pss_kb / 1024:.0f} MB" for server in servers
    )]  # fmt: skip
    shares = [sample.load_generator_cpu for samples in results.samples.values() for sample in samples]
    lines.append(f"load generator (wrk, 1 thread): {min(shares):.0%}-{max(shares):.0%} of one CPU")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions of every cell")
    parser.add_argument("--duration", type=int, default=6, help="seconds of load per cell and server")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="workers of every server")
    parser.add_argument("--servers", default="project,fastapi,flask-sync,flask-gevent", help="comma-separated")
    parser.add_argument("--baseline", type=Path, help="another checkout whose server runs as 'baseline'")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `make bench-model` installs it on Debian/Ubuntu (apt-get install wrk)")
    specs = server_specs(args.baseline)
    wanted = args.servers.split(",") + (["baseline"] if args.baseline else [])
    unknown = [name for name in wanted if name not in specs]
    if unknown:
        sys.exit(f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(specs)}")

    with tempfile.TemporaryDirectory(prefix="bench-model-") as scratch_name, ExitStack() as stack:
        scratch = Path(scratch_name)
        model_dir = train.write_model_dir(scratch / "model")
        servers = [stack.enter_context(started(specs[name], args.workers, model_dir, scratch)) for name in wanted]
        for server in servers:
            wait_until_ready(server)
        time.sleep(SETTLE_SECONDS)
        print(f"model server benchmark: {args.workers} workers per server, wrk with 1 thread, {args.reps} "
              f"interleaved repetitions of {args.duration} s per cell, {os.cpu_count()} CPUs")  # fmt: skip
        print(check_same_predictions(servers))
        print(f"load average (1/5/15 min) before: {load_average()}", flush=True)
        for server in servers:
            wrk(server.url, CELLS[0], WARMUP_SECONDS, scratch)
        results = Results()
        for rep in range(args.reps):
            for cell_index, cell in enumerate(CELLS):
                order = rotated(wanted, rep + cell_index)
                for name in order:
                    server = next(s for s in servers if s.spec.name == name)
                    results.add(cell, name, wrk(server.url, cell, args.duration, scratch))
                    server.sample_memory()
            print(f"  repetition {rep + 1}/{args.reps} done, load average {load_average()}", flush=True)
        print(f"load average (1/5/15 min) after: {load_average()}\n")
        print(table(results, servers, CELLS))


if __name__ == "__main__":
    main()
