"""`python -m tools.access_check [--stacks DIR] [--format markdown|json]`: prove offline that the synthesized
policies allow every AWS call the pipeline makes at run time.

Exit codes: 0 every call allowed; 1 a call is denied (one line per denial on stderr: principal, action,
resource, reason) or a deployed runtime has no call manifest; 2 the input cannot be read or the evaluator cannot
run (one line, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tools.access_check.check import run
from tools.access_check.evaluate import EvaluatorUnavailable
from tools.access_check.report import denial_line, render_json, render_markdown
from tools.access_check.stacks import InputError

EXIT_OK, EXIT_DENIED, EXIT_BAD_INPUT = 0, 1, 2
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def default_stacks() -> Path:
    """Where `python main.py` (make synth) writes the current PIPELINE_ENV's stacks."""
    return Path(os.environ.get("CDKTF_OUTDIR") or PROJECT_ROOT / "cdktf.out") / "stacks"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.access_check",
        description="Evaluate every recorded and declared AWS call against the synthesized policies "
        "(identity, resource and KMS key policies), the way AWS evaluates them.",
        epilog="Exit codes: 0 all allowed, 1 a call is denied, 2 unreadable input or no evaluator.",
    )
    parser.add_argument(
        "--stacks",
        type=Path,
        default=None,
        help="folder of synthesized stacks (default: $CDKTF_OUTDIR/stacks or cdktf.out/stacks)",
    )
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stacks = args.stacks or default_stacks()
    try:
        _check_environment(stacks, args.stacks is not None)
        result = run(stacks)
    except (InputError, EvaluatorUnavailable) as error:
        print(f"access_check: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(render_json(result) if args.format == "json" else render_markdown(result))
    for decision in result.denials:
        print(f"access_check: {denial_line(result, decision)}", file=sys.stderr)
    for runtime in result.unproven:
        print(
            f"access_check: UNPROVEN {runtime}: no manifest in tools/access_check/manifests/ records its calls",
            file=sys.stderr,
        )
    return EXIT_DENIED if result.denials or result.unproven else EXIT_OK


def _check_environment(stacks: Path, explicit: bool) -> None:
    """The default folder holds whichever environment was synthesized last: refuse another one than PIPELINE_ENV."""
    wanted = os.environ.get("PIPELINE_ENV")
    if explicit or not wanted:
        return
    for stack_file in sorted(stacks.glob("*/cdk.tf.json")):
        try:
            providers = json.loads(stack_file.read_text(encoding="utf-8")).get("provider", {}).get("aws", [])
        except (OSError, ValueError):
            return
        for provider in providers:
            for tags in provider.get("default_tags", []):
                found = tags.get("tags", {}).get("environment")
                if found and found != wanted:
                    raise InputError(
                        f"{stacks} holds the {found} stacks, not PIPELINE_ENV={wanted}: synthesize "
                        f"first (`make synth`) or pass --stacks"
                    )
        return
