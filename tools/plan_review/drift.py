"""`make drift` / `python -m tools.plan_review.drift`: has anything changed outside Terraform?

Runs a refresh-only plan with Terraform's detailed exit code for every stack of the current environment (in
parallel) and reviews them as a drift review: what changed, what was deleted, and what applying the refresh-only
plans would write to state. A stack has drifted when Terraform shows a change: an object changed or deleted outside
Terraform, or an output whose value changed (the review lists exactly the objects Terraform reports,
tools/plan_review/relevance.py). Terraform's exit code 2 alone is not drift: in refresh-only mode it also says 2
when only provider-internal data in state would be rewritten, and then prints "No changes".

The current environment is PIPELINE_ENV (default `local`): for `local`, the emulator deployment that
`make deploy-local` recorded (its synth folder and its emulator); for any other, `cdktf.out` as `make synth`
wrote it, with your AWS credentials, every stack but the bootstrap `state` (as CI). The nightly workflow
(.github/workflows/drift.yml) plans each stack in its own job and runs this with `--reuse-plans` to review them.

Exit codes: 0 no drift, 2 drift, 1 a plan failed (or no deployment to check).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.local.deploy import emulator_environment, read_stacks
from tools.plan_review.classify import Kind, kind_of
from tools.plan_review.model import PlanError, load_plan
from tools.plan_review.prices import default_price_table
from tools.plan_review.render_json import render_json
from tools.plan_review.render_markdown import render_markdown
from tools.plan_review.review import Review, build_review
from tools.plan_review.saved import Meta, PlanContext, SavedPlanError, Terraform, current_context, plan_stack
from tools.plan_review.stacks import ci_stacks
from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT

EXIT_CLEAN, EXIT_FAILED, EXIT_DRIFT = 0, 1, 2
LOCAL_SESSION = BUILD_DIR / "local-deploy.json"
DEFAULT_PLANS = BUILD_DIR / "drift"


class DriftError(RuntimeError):
    """Nothing to check, or a plan failed; the message says which."""


def current_target(environment: str, outdir: Path | None) -> tuple[Path, Terraform, bool]:
    """(synth folder, Terraform, whether the bootstrap stack is checked too) for ENVIRONMENT."""
    if environment == "local" and outdir is None:
        try:
            session = json.loads(LOCAL_SESSION.read_text())
        except (OSError, ValueError):
            raise DriftError(
                "no local deployment recorded (.build/local-deploy.json): run `make deploy-local` "
                "first, or pass --outdir"
            ) from None
        return (
            Path(session["outdir"]),
            Terraform.detect(emulator_environment(session["emulator_url"], session.get("environment"))),
            True,
        )
    return (outdir or PROJECT_ROOT / "cdktf.out"), Terraform.detect(), environment == "local"


def plan_for_drift(
    tf: Terraform, outdir: Path, stacks: list[str], plans: Path, context: PlanContext, *, include_bootstrap: bool
) -> dict[str, Meta]:
    """A refresh-only plan of each stack into PLANS/<stack>/, in parallel (one Terraform per core)."""
    infos = read_stacks(outdir) if include_bootstrap else ci_stacks(outdir)
    unknown = sorted(set(stacks) - set(infos))
    if unknown:
        raise DriftError(f"no such stack in {outdir}: {', '.join(unknown)} (stacks: {', '.join(sorted(infos))})")

    def one(stack: str) -> Meta:
        return plan_stack(
            tf, infos[stack].directory, plans / stack, stack=stack, context=context, refresh_only=True, lock=False
        )

    with ThreadPoolExecutor(max(1, min(len(stacks), os.cpu_count() or 1))) as pool:
        return dict(zip(stacks, pool.map(one, stacks), strict=True))


def review_drift(plans: Path, stacks: list[str]) -> Review:
    for stack in stacks:
        if not Meta.read(plans / stack).refresh_only:
            raise DriftError(f"{plans / stack}: not a refresh-only plan")
    loaded = [load_plan(plans / stack / "plan.json", stack=stack) for stack in stacks]
    return build_review(loaded, default_price_table())


def drifted_stacks(review: Review) -> list[str]:
    """Stacks where Terraform shows a change: drifted objects, or outputs whose value changed."""
    return sorted(
        s.stack
        for s in review.stacks
        if s.drift or any(kind_of(o.change.actions) is not Kind.NO_OP for o in s.plan.output_changes)
    )


def announcement(environment: str, outdir: Path, stacks: list[str]) -> str:
    """The line said before any plan runs, so that whoever runs it sees which deployment is checked (as make diff
    and make deploy say theirs)."""
    target = "the emulator deployment of make deploy-local" if environment == "local" else "your AWS credentials"
    return f"drift: environment {environment} ({target}), stacks from {outdir}: {', '.join(stacks)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan_review.drift",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--outdir",
        type=Path,
        default=None,
        help="the synthesized stacks (default: the local deployment for local, else cdktf.out)",
    )
    parser.add_argument("--stack", nargs="+", action="extend", default=None, help="only these stacks")
    parser.add_argument("--plans", type=Path, default=None, help=f"where plans go (default {DEFAULT_PLANS}/<env>)")
    parser.add_argument(
        "--reuse-plans",
        action="store_true",
        help="review the refresh-only plans already under --plans (one folder per stack)",
    )
    parser.add_argument("--output", type=Path, default=None, help="write the markdown review here (else stdout)")
    parser.add_argument("--json-output", type=Path, default=None, help="also write the JSON review here")
    parser.add_argument("--github-output", default=None, help="append drifted=true|false here (workflows)")
    args = parser.parse_args(argv)
    environment = os.environ.get("PIPELINE_ENV", "local")
    plans = args.plans or DEFAULT_PLANS / environment
    try:
        if args.reuse_plans:
            stacks = args.stack or sorted(p.name for p in plans.iterdir() if (p / "meta.json").is_file())
        else:
            outdir, tf, bootstrap = current_target(environment, args.outdir)
            infos = read_stacks(outdir) if bootstrap else ci_stacks(outdir)
            stacks = args.stack or list(infos)
            print(announcement(environment, outdir, stacks), file=sys.stderr, flush=True)
            plan_for_drift(
                tf, outdir, stacks, plans, current_context(pipeline_env=environment), include_bootstrap=bootstrap
            )
        review = review_drift(plans, stacks)
    except (DriftError, SavedPlanError, PlanError, OSError, KeyError, ValueError) as exc:
        print(f"drift: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    drifted = drifted_stacks(review)
    markdown = render_markdown(review)
    if args.output is None:
        sys.stdout.write(markdown)
    else:
        args.output.write_text(markdown, encoding="utf-8")
    if args.json_output is not None:
        args.json_output.write_text(render_json(review), encoding="utf-8")
    if args.github_output:
        with Path(args.github_output).open("a") as out:
            out.write(f"drifted={'true' if drifted else 'false'}\n")
    print(f"drift: {', '.join(drifted) if drifted else 'none'} ({len(stacks)} stacks checked)", file=sys.stderr)
    return EXIT_DRIFT if drifted else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
