"""Synth time, measured side by side: the project's synth against its floor and against the naive import.

- floor:   import cdktf, load the AWS provider's jsii assembly, synth one empty stack (the least any synth costs)
- project: `python -O main.py`, the command of `make synth` and cdktf.json (every stack of the default
           environment, provider modules loaded on demand)
- naive:   the same app after `import cdktf_cdktf_provider_aws` (its __init__ imports all ~2,200 modules)

Every scenario runs with the interpreter flags of `make synth` (-O: no jsii type checks), so the ratios compare
the work, not the flags. Each run is a fresh process (every process pays the jsii start-up), with bytecode caching
on as on a user's machine (PYTHONDONTWRITEBYTECODE is dropped for the runs) and each scenario run once unmeasured
first; the scenarios are interleaved so that the noise of a shared machine falls on all of them alike. Prints
medians, peak memory and the ratios. A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

PROJECT_ROOT = Path(__file__).resolve().parent.parent

FLOOR = """
import os, sys
sys.path.insert(0, os.getcwd())
import cdktf
import modules.aws  # registers the package without its __init__
modules.aws.load_assembly()
app = cdktf.App(outdir=sys.argv[1])
cdktf.TerraformStack(app, "empty")
app.synth()
"""

PROJECT = """
import runpy
runpy.run_path("main.py", run_name="__main__")  # exactly `python main.py`
"""

NAIVE = """
import runpy
import cdktf_cdktf_provider_aws  # the package __init__: every resource module
runpy.run_path("main.py", run_name="__main__")
"""

SCENARIOS = {"floor": FLOOR, "project": PROJECT, "naive": NAIVE}
# The interpreter flags of cdktf.json's app command (`.venv/bin/python -O main.py`), which `make synth` runs too.
SYNTH_FLAGS = tuple(json.loads((PROJECT_ROOT / "cdktf.json").read_text())["app"].split()[1:-1])


def run_once(code: str) -> tuple[float, float]:
    """Seconds of wall time and peak resident MiB (largest process of the run, from wait4)."""
    with tempfile.TemporaryDirectory() as outdir:
        env = {**os.environ, "CDKTF_OUTDIR": outdir, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *SYNTH_FLAGS, "-c", code, outdir],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"benchmark run failed: {proc.stderr.read().decode()[-2000:]}")
        return elapsed, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario (default 5)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    memory: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    for code in SCENARIOS.values():
        run_once(code)  # warm the file cache and the .pyc files once, unmeasured
    for i in range(args.runs):
        for name, code in SCENARIOS.items():
            seconds, mib = run_once(code)
            times[name].append(seconds)
            memory[name].append(mib)
            print(f"run {i + 1}/{args.runs} {name:8s} {seconds:6.2f} s {mib:7.0f} MiB", file=sys.stderr)
    median = {name: statistics.median(values) for name, values in times.items()}
    table = Table(title=f"synth of the default environment, {args.runs} interleaved runs each")
    for column in ("scenario", "median s", "min s", "max s", "peak MiB (median)"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for name in SCENARIOS:
        table.add_row(
            name,
            f"{median[name]:.2f}",
            f"{min(times[name]):.2f}",
            f"{max(times[name]):.2f}",
            f"{statistics.median(memory[name]):.0f}",
        )
    console = Console()
    console.print(table)
    console.print(f"project / floor = {median['project'] / median['floor']:.2f}x (target <= 1.5x)")
    console.print(f"project / naive = {median['project'] / median['naive']:.2f}x (target <= 0.35x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
