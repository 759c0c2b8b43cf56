"""The stacks a workflow plans and applies, read from the synthesized manifest: their dependency order and what
each one reads from.

Why from the manifest: a list written into each workflow goes stale the day a stack is added; cdktf's
`manifest.json` already knows every stack and its dependencies. The `state` stack is the bootstrap that holds the
backend bucket and keeps its own state on the machine of whoever created it (docs/ci-cd.md: "State backends"): CI never
plans or applies it.

`python -m tools.plan_review.stacks cdktf.out` prints the stacks in dependency order, one per line;
`--json` prints them as a JSON list (a workflow matrix).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.local.deploy import DeployError, StackInfo, dependency_levels, read_stacks

BOOTSTRAP_STACK = "state"


def ci_stacks(outdir: Path) -> dict[str, StackInfo]:
    """Every stack of the synthesized OUTDIR except the bootstrap."""
    return {name: info for name, info in read_stacks(outdir).items() if name != BOOTSTRAP_STACK}


def dependency_order(stacks: dict[str, StackInfo]) -> list[str]:
    """STACKS so that each comes after every stack it depends on (dependencies outside STACKS are ignored: the
    bootstrap is applied by hand before anything else)."""
    inside = {
        name: StackInfo(info.name, info.directory, tuple(d for d in info.dependencies if d in stacks))
        for name, info in stacks.items()
    }
    return [name for level in dependency_levels(inside) for name in level]


def upstreams(stacks: dict[str, StackInfo]) -> dict[str, set[str]]:
    """stack -> every stack it reads from, directly or through others (bootstrap excluded)."""
    found: dict[str, set[str]] = {}

    def visit(name: str) -> set[str]:
        if name not in found:
            found[name] = set()
            for dependency in stacks[name].dependencies:
                if dependency in stacks:
                    found[name] |= {dependency} | visit(dependency)
        return found[name]

    for name in stacks:
        visit(name)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan_review.stacks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("outdir", type=Path, help="the synthesized output folder (cdktf.out)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of one name per line")
    args = parser.parse_args(argv)
    try:
        order = dependency_order(ci_stacks(args.outdir))
    except (OSError, ValueError, KeyError, DeployError) as exc:
        print(f"stacks: error: cannot read {args.outdir / 'manifest.json'}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(order) if args.json else "\n".join(order))
    return 0


if __name__ == "__main__":
    sys.exit(main())
