"""How long the plan review takes on plans of thousands of resource changes: is it one linear pass?

The plans are real (made by Terraform against the emulator with the plan-review test scenarios, cached in
.build/bench/plan-review/ after the first run), then multiplied: every resource change (and drift entry) of the
serving, edge and storage stacks repeated under new names until a stack holds N changes. For each N the review is
timed phase by phase (read and parse, analyse: counts, drift, IAM, cost; render markdown; render JSON), the sizes
interleaved across rounds, and the median and range printed with the time per resource change: constant per change
means linear.

Measured, not asserted. Run it when `uptime` shows a load average under 1.5: `make bench-plan-review`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tools.plan_review.model import load_plan  # noqa: E402
from tools.plan_review.prices import default_price_table  # noqa: E402
from tools.plan_review.render_json import render_json  # noqa: E402
from tools.plan_review.render_markdown import render_markdown  # noqa: E402
from tools.plan_review.review import build_review  # noqa: E402

CACHE = PROJECT_ROOT / ".build" / "bench" / "plan-review"
SOURCE_STACKS = ("serving", "edge", "storage")
SIZES = (1_000, 2_000, 4_000, 8_000, 16_000)
PHASES = ("parse", "analyse", "markdown", "json")


def real_plans() -> dict[str, dict[str, Any]]:
    """The scenario plans, made once with the real Terraform CLI against a private emulator."""
    if not all((CACHE / stack / "plan.json").is_file() for stack in SOURCE_STACKS):
        from tests.tools.real_plans import plan_all_stacks
        from tools.emulator import start_emulator
        from tools.terraform_cli import toolchain

        print("making the real plans once (Terraform against the emulator, about two minutes) ...", flush=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        with start_emulator(reuse=False) as emulator:
            plan_all_stacks(toolchain(), CACHE, emulator.url, "bench")
    return {stack: json.loads((CACHE / stack / "plan.json").read_text()) for stack in SOURCE_STACKS}


def _renamed(entry: dict[str, Any], suffix: str) -> dict[str, Any]:
    clone = copy.deepcopy(entry)
    clone["name"] = f"{entry['name']}_{suffix}"
    clone["address"] = f"{'data.' if entry.get('mode') == 'data' else ''}{entry['type']}.{clone['name']}"
    if clone.get("previous_address"):
        clone["previous_address"] = f"{clone['previous_address']}_{suffix}"
    return clone


def multiplied(plans: dict[str, dict[str, Any]], size: int) -> dict[str, Any]:
    """One plan of SIZE resource changes, copied from the real ones (drift and configuration copied along)."""
    base = copy.deepcopy(plans["serving"])
    pool = [(stack, rc) for stack in SOURCE_STACKS for rc in plans[stack].get("resource_changes", [])]
    drift = [d for stack in SOURCE_STACKS for d in plans[stack].get("resource_drift", [])]
    changes, drifted, configured = [], [], []
    config_resources = {
        r["address"]: r
        for stack in SOURCE_STACKS
        for r in plans[stack].get("configuration", {}).get("root_module", {}).get("resources", [])
    }
    copies = 0
    while len(changes) < size:
        for stack, entry in pool:
            if len(changes) == size:
                break
            clone = _renamed(entry, f"{stack}{copies}")
            changes.append(clone)
            original = config_resources.get(f"{entry['type']}.{entry['name']}")
            if original is not None:
                configured.append({**original, "address": clone["address"], "name": clone["name"]})
        drifted += [_renamed(d, f"x{copies}") for d in drift]
        copies += 1
    base["resource_changes"] = changes
    base["resource_drift"] = drifted
    base["relevant_attributes"] = [{"resource": d["address"], "attribute": []} for d in drifted[::3]]
    base["configuration"]["root_module"]["resources"] = configured
    return base


def time_review(path: Path) -> dict[str, float]:
    table = default_price_table()
    started = time.perf_counter()
    plan = load_plan(path, stack="big")
    parsed = time.perf_counter()
    review = build_review([plan], table)
    analysed = time.perf_counter()
    render_markdown(review)
    rendered = time.perf_counter()
    render_json(review)
    done = time.perf_counter()
    return {
        "parse": parsed - started,
        "analyse": analysed - parsed,
        "markdown": rendered - analysed,
        "json": done - rendered,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    load = os.getloadavg()[0]
    if load > 1.5:
        print(f"warning: load average {load:.2f} (over 1.5): timings will be noisy", file=sys.stderr)
    plans = real_plans()
    results: dict[int, list[dict[str, float]]] = {size: [] for size in args.sizes}
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for size in args.sizes:
            paths[size] = Path(folder) / f"plan-{size}.json"
            paths[size].write_text(json.dumps(multiplied(plans, size)))
        for _ in range(args.rounds):
            for size in args.sizes:  # interleaved: a slow moment of the machine hits every size alike
                results[size].append(time_review(paths[size]))
        sizes_mb = {size: paths[size].stat().st_size / 1e6 for size in args.sizes}
    print(f"plan review, median of {args.rounds} rounds [min-max], load average {load:.2f} at start")
    print(
        f"{'changes':>8} {'JSON MB':>8} "
        + " ".join(f"{phase + ' ms':>22}" for phase in PHASES)
        + f" {'total ms':>10} {'µs/change':>10}"
    )
    for size in args.sizes:
        cells = []
        for phase in PHASES:
            values = [r[phase] * 1000 for r in results[size]]
            cells.append(f"{statistics.median(values):8.1f} [{min(values):5.0f}-{max(values):5.0f}]")
        totals = [sum(r.values()) * 1000 for r in results[size]]
        total = statistics.median(totals)
        print(
            f"{size:>8} {sizes_mb[size]:>8.1f} "
            + " ".join(f"{c:>22}" for c in cells)
            + f" {total:>10.1f} {total * 1000 / size:>10.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
