"""`python -m tools.plan_review PLAN.json [STACK=PLAN.json ...]`: review plans, gate on stateful destruction.

Exit codes: 0 reviewed; 2 an input is not a readable plan (one line on stderr names it); 3 `--fail-on-destroy`
was given and a stateful resource would be destroyed or replaced.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tools.plan_review.classify import summarize
from tools.plan_review.fit import GITHUB_COMMENT_LIMIT
from tools.plan_review.model import PlanError, StackPlan, load_plan
from tools.plan_review.render_json import render_json
from tools.plan_review.render_markdown import render_markdown

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_STATEFUL_DESTRUCTION = 3

_STACK_ASSIGNMENT = re.compile(r"^(?P<stack>[A-Za-z0-9_.-]+)=(?P<path>.+)$")


def split_plan_argument(argument: str) -> tuple[str | None, Path]:
    """`STACK=PATH` names the stack; a bare PATH (or one that exists as written) takes its folder's name."""
    match = _STACK_ASSIGNMENT.match(argument)
    if match and not Path(argument).exists():
        return match["stack"], Path(match["path"])
    return None, Path(argument)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan_review",
        description="Summarize `terraform show -json` plans (one per stack) for a pull-request review.",
        epilog="Exit codes: 0 reviewed, 2 unreadable or unsupported plan, 3 stateful destruction with "
               "--fail-on-destroy.")
    parser.add_argument("plans", nargs="+", metavar="[STACK=]PLAN.json",
                        help="a plan in JSON; the stack is STACK or else the name of the folder holding it")
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown",
                        help="markdown: the pull-request comment (default); json: counts for scripts")
    parser.add_argument("--fail-on-destroy", action="store_true",
                        help=f"exit {EXIT_STATEFUL_DESTRUCTION} when a stateful resource would be destroyed "
                             "or replaced (after printing the review)")
    parser.add_argument("--max-chars", type=int, default=GITHUB_COMMENT_LIMIT,
                        help="size limit of the markdown comment (default: GitHub's %(default)s)")
    parser.add_argument("--output", type=Path, default=None, help="write the review here instead of stdout")
    return parser


def load_all(arguments: list[str]) -> list[StackPlan]:
    plans = []
    for argument in arguments:
        stack, path = split_plan_argument(argument)
        plans.append(load_plan(path, stack=stack))
    return plans


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        plans = load_all(args.plans)
    except PlanError as exc:
        print(f"plan_review: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    review = render_json(plans) if args.format == "json" else render_markdown(plans, limit=args.max_chars)
    if args.output is None:
        sys.stdout.write(review)
    else:
        args.output.write_text(review, encoding="utf-8")
    stateful = [item for plan in plans for item in summarize(plan).stateful_destructive]
    if args.fail_on_destroy and stateful:
        addresses = ", ".join(f"{item.stack}:{item.change.address}" for item in stateful)
        print(f"plan_review: stateful resources would be destroyed or replaced: {addresses}", file=sys.stderr)
        return EXIT_STATEFUL_DESTRUCTION
    return EXIT_OK
