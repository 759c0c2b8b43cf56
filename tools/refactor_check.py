"""`python -m tools.refactor_check [--base REV]`: prove a refactor moved no infrastructure.

Compares, for every environment and stack, the Terraform addresses (`resource.type.name`, `data.type.name`,
`output.name`) of the synthesized JSON committed as snapshots at REV (default: main) with a fresh synth of the
working tree. Any address added, removed or renamed is listed and the exit code is 1: Terraform would create or
destroy something (a rename without a `moved` block is a destroy plus a create). Attribute changes are not
addresses; the snapshot diff shows them, and the emulator plan (`make e2e`) shows whether they change a plan.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.terraform_cli import PROJECT_ROOT

SNAPSHOTS = "tests/stacks/__snapshots__/test_snapshots"
ENVIRONMENTS = tuple(sorted(p.stem for p in (PROJECT_ROOT / "config").glob("*.toml")))  # every shipped one


def addresses(doc: dict) -> set[str]:
    found = {f"output.{name}" for name in doc.get("output", {})}
    for block, prefix in (("resource", ""), ("data", "data.")):
        for kind, instances in doc.get(block, {}).items():
            found |= {f"{prefix}{kind}.{name}" for name in instances}
    return found


def snapshot_at(rev: str, env: str, stack: str) -> dict | None:
    name = f"test_each_stack_matches_its_snapshot[{env}-{stack}][{env}-{stack}].json"
    shown = subprocess.run(
        ["git", "show", f"{rev}:{SNAPSHOTS}/{name}"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    return json.loads(shown.stdout) if shown.returncode == 0 else None


def compare(rev: str) -> list[str]:
    import main
    from modules.config import load_config
    from modules.synth_run import synthesize

    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for env in ENVIRONMENTS:
            outdir = Path(tmp) / env
            synthesize(main.compose, load_config(PROJECT_ROOT / "config" / f"{env}.toml"), outdir)
            manifest = json.loads((outdir / "manifest.json").read_text())
            for stack, entry in sorted(manifest["stacks"].items()):
                now = addresses(json.loads((outdir / entry["synthesizedStackPath"]).read_text()))
                before_doc = snapshot_at(rev, env, stack)
                if before_doc is None:
                    problems.append(f"{env}/{stack}: a new stack (no snapshot at {rev})")
                    continue
                before = addresses(before_doc)
                problems += [f"{env}/{stack}: + {a}" for a in sorted(now - before)]
                problems += [f"{env}/{stack}: - {a}" for a in sorted(before - now)]
    return problems


def main_cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision whose snapshots are the 'before'")
    args = parser.parse_args(argv)
    problems = compare(args.base)
    for line in problems:
        print(line)
    print(
        f"{len(problems)} address(es) differ from {args.base}"
        if problems
        else f"no Terraform address added, removed or renamed against {args.base} in {', '.join(ENVIRONMENTS)}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main_cli())
