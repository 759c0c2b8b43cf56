"""`python -m tools.plan_review PLAN.json [STACK=PLAN.json ...]`: review plans; gate on stateful destruction and on
cost increases.

Exit codes: 0 reviewed; 2 an input is not a readable plan, two inputs name the same stack, or an option is
invalid (one line on stderr says which); 3 `--fail-on-destroy` and a stateful resource would be destroyed or
replaced; 4 `--fail-on-cost-increase` and the fixed monthly cost rises by more than the limit. When both gates
trip, 3 (stderr names both). A gate whose label is among `--labels` is reported as waived and exits 0. The
review is printed (or written) before any gate decides the exit code.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tools.plan_review.cost import CostLimit
from tools.plan_review.fit import GITHUB_COMMENT_LIMIT, LimitTooSmall
from tools.plan_review.gates import (
    ALLOW_COST_INCREASE_LABEL,
    ALLOW_DESTROY_LABEL,
    EXIT_COST_INCREASE,
    EXIT_OK,
    EXIT_STATEFUL_DESTRUCTION,
    Gate,
    evaluate_gates,
    exit_code,
    parse_labels,
)
from tools.plan_review.model import PlanError, StackPlan, load_plan
from tools.plan_review.prices import DEFAULT_PRICE_TABLE, PriceTableError, load_price_table
from tools.plan_review.render_json import render_json
from tools.plan_review.render_markdown import render_markdown
from tools.plan_review.review import build_review

EXIT_BAD_INPUT = 2
__all__ = ["EXIT_BAD_INPUT", "EXIT_COST_INCREASE", "EXIT_OK", "EXIT_STATEFUL_DESTRUCTION", "main"]

_STACK_ASSIGNMENT = re.compile(r"^(?P<stack>[A-Za-z0-9_.-]+)=(?P<path>.+)$")


def split_plan_argument(argument: str) -> tuple[str | None, Path]:
    """`STACK=PATH` names the stack; a bare PATH (or one that exists as written) takes its folder's name."""
    match = _STACK_ASSIGNMENT.match(argument)
    if match and not Path(argument).exists():
        return match["stack"], Path(match["path"])
    return None, Path(argument)


def _cost_limit(text: str) -> CostLimit:
    try:
        return CostLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan_review",
        description="Review `terraform show -json` plans (one per stack): counts, destructive changes, fixed "
        "monthly cost, IAM changes, drift; for a pull-request comment or for scripts.",
        epilog="Exit codes: 0 reviewed, 2 unreadable plan, duplicate stack or invalid option, 3 stateful "
        "destruction with --fail-on-destroy, 4 cost increase over --fail-on-cost-increase (3 when both).",
    )
    parser.add_argument(
        "plans",
        nargs="+",
        metavar="[STACK=]PLAN.json",
        help="a plan in JSON; the stack is STACK or else the name of the folder holding it",
    )
    parser.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        help="markdown: the pull-request comment (default); json: everything, for scripts",
    )
    parser.add_argument("--output", type=Path, default=None, help="write the review here instead of stdout")
    parser.add_argument(
        "--json-output", type=Path, default=None, help="also write the JSON review to this file (one run, both formats)"
    )
    parser.add_argument(
        "--fail-on-destroy",
        action="store_true",
        help=f"exit {EXIT_STATEFUL_DESTRUCTION} when a stateful resource would be destroyed "
        "or replaced (after printing the review)",
    )
    parser.add_argument(
        "--fail-on-cost-increase",
        type=_cost_limit,
        default=None,
        metavar="AMOUNT|PERCENT",
        help=f"exit {EXIT_COST_INCREASE} when the total fixed monthly cost rises by more than "
        "AMOUNT dollars (100) or PERCENT of its current value (10%%); any rise from zero "
        "exceeds a percentage",
    )
    parser.add_argument(
        "--labels",
        default="",
        help=f"the pull request's labels (a JSON list or comma-separated): `{ALLOW_DESTROY_LABEL}` "
        f"waives --fail-on-destroy, `{ALLOW_COST_INCREASE_LABEL}` waives "
        "--fail-on-cost-increase; the review says what was waived",
    )
    parser.add_argument(
        "--max-chars",
        type=int,
        default=GITHUB_COMMENT_LIMIT,
        help="size limit of the markdown comment (default: GitHub's %(default)s)",
    )
    parser.add_argument(
        "--region",
        default=None,
        help="price every stack in this region (default: the region each plan's AWS provider configuration states)",
    )
    parser.add_argument(
        "--prices",
        type=Path,
        default=DEFAULT_PRICE_TABLE,
        help="the price table (default: the dated table shipped with the tool)",
    )
    return parser


def load_all(arguments: list[str]) -> list[StackPlan]:
    """The plans in argument order; two arguments resolving to one stack name is an error (the review would show
    two rows under one name, and every per-stack gate and comment would be ambiguous)."""
    plans: list[StackPlan] = []
    seen: dict[str, Path] = {}
    for argument in arguments:
        stack, path = split_plan_argument(argument)
        plan = load_plan(path, stack=stack)
        if plan.stack in seen:
            raise PlanError(
                f"{seen[plan.stack]} and {path} both resolve to stack {plan.stack!r}: name them with STACK=PATH"
            )
        seen[plan.stack] = path
        plans.append(plan)
    return plans


def _write(text: str, target: Path | None) -> None:
    if target is None:
        sys.stdout.write(text)
    else:
        target.write_text(text, encoding="utf-8")


def report_gates(gates: list[Gate]) -> int:
    """One stderr line per tripped gate (waived or not); the exit code of the first that blocks."""
    for gate in gates:
        if gate.tripped:
            verdict = (
                f"waived by the label {gate.label!r}" if gate.waived else f"add the label {gate.label!r} to accept"
            )
            print(f"plan_review: {gate.name}: {gate.detail} ({verdict})", file=sys.stderr)
    return exit_code(gates)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        plans = load_all(args.plans)
        table = load_price_table(args.prices)
    except (PlanError, PriceTableError) as exc:
        print(f"plan_review: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    review = build_review(plans, table, region=args.region)
    try:
        labels = parse_labels(args.labels)
    except ValueError as exc:
        print(f"plan_review: error: --labels: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    gates = evaluate_gates(
        review, fail_on_destroy=args.fail_on_destroy, cost_limit=args.fail_on_cost_increase, labels=labels
    )
    try:
        markdown = render_markdown(review, gates, limit=args.max_chars) if args.format == "markdown" else None
    except LimitTooSmall as exc:
        print(f"plan_review: error: --max-chars: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    as_json = render_json(review, gates) if args.format == "json" or args.json_output else None
    _write(markdown if markdown is not None else as_json or "", args.output)
    if args.json_output is not None and as_json is not None:
        args.json_output.write_text(as_json, encoding="utf-8")
    return report_gates(gates)
