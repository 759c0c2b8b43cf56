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
import re
import sys
from pathlib import Path
from typing import Any

from tools.local.deploy import DeployError, StackInfo, dependency_levels, read_stacks

BOOTSTRAP_STACK = "state"
ANY_OUTPUT = "*"  # a read (or a change) of outputs whose names are not known: treated as every output
CROSS_STACK_INPUT = "cross-stack-reference-input-"  # cdktf's id for the remote state of the stack it names
_REMOTE_STATE_READ = re.compile(r"data\.terraform_remote_state\.([\w-]+)(?:\.outputs\.([\w-]+))?")


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


def _stack_json(directory: Path) -> dict[str, Any]:
    """The synthesized Terraform JSON of the stack in DIRECTORY (cdk.tf.json, else every *.tf.json merged)."""
    files = (
        [directory / "cdk.tf.json"] if (directory / "cdk.tf.json").is_file() else sorted(directory.glob("*.tf.json"))
    )
    merged: dict[str, Any] = {}
    for path in files:
        for block, content in json.loads(path.read_text()).items():
            merged[block] = {**merged.get(block, {}), **content} if isinstance(content, dict) else content
    return merged


def _upstream_of(data_id: str, config: dict[str, Any], candidates: set[str]) -> str | None:
    """The stack whose state a `terraform_remote_state` data source reads: cdktf names it after the stack
    (`cross-stack-reference-input-<stack>`); else its id, or the file name of the state it reads (key or path)."""
    state_file = str(config.get("key") or config.get("path") or "").rsplit("/", 1)[-1].removesuffix(".tfstate")
    for name in (data_id.removeprefix(CROSS_STACK_INPUT), data_id, state_file):
        if name in candidates:
            return name
    return None


def outputs_read(stacks: dict[str, StackInfo]) -> dict[str, dict[str, frozenset[str]]]:
    """stack -> {upstream it depends on directly: names of the upstream's outputs it reads}.

    Why: cdktf hands values between stacks through outputs that the downstream plan reads from the upstream's
    state, so a downstream plan is stale only when an output it reads changes. A reference that names no output
    (the whole `outputs` object) reads ANY_OUTPUT; a remote state whose stack cannot be told counts as a read
    from every stack it depends on (an over-cautious re-plan costs an approval, a missed one a stale apply).
    Reads from the bootstrap stack are left out: CI never plans it."""
    found: dict[str, dict[str, frozenset[str]]] = {}
    for name, info in stacks.items():
        dependencies = {d for d in info.dependencies if d in stacks}
        doc = _stack_json(info.directory)
        sources = (doc.get("data") or {}).get("terraform_remote_state") or {}
        upstream_of = {
            data_id: _upstream_of(data_id, (source or {}).get("config") or {}, set(info.dependencies))
            for data_id, source in sources.items()
        }
        reads: dict[str, set[str]] = {d: set() for d in dependencies}
        text = json.dumps({block: content for block, content in doc.items() if block != "terraform"})
        for data_id, output in _REMOTE_STATE_READ.findall(text):
            if data_id not in upstream_of:
                continue
            targets = [upstream_of[data_id]] if upstream_of[data_id] else sorted(dependencies)
            for upstream in (t for t in targets if t in dependencies):
                reads[upstream].add(output or ANY_OUTPUT)
        found[name] = {upstream: frozenset(names) for upstream, names in reads.items()}
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
