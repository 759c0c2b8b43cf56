"""The plan that was reviewed is the plan that is applied: saved plans, the proof they still apply, and applying.

Why: a deploy that plans again after approval applies something no one reviewed (the state may have moved, an
upstream stack may have changed the values a stack reads). So the pull request's plan job saves each stack's
plan file together with what it was made from (`meta.json`: head commit, checked-out tree, environment, digest
of the synthesized stack, and the lineage and serial of the state it read), and on merge the deploy workflow
applies a saved plan only when all of that still holds:
- the merged tree is the reviewed tree, the environment and the synthesized stack are the same;
- the stack's state has the same lineage and serial (Terraform refuses a stale plan too; checking first turns a
  failed apply into a re-plan);
- every stack it reads from directly is applied from its reviewed plan as well, and none of those plans changes
  an output this stack reads (cdktf passes values between stacks through outputs read at plan time: a changed
  output that it reads makes the plan stale; one it does not read changes nothing in it).
Anything else is re-planned, reviewed in the job summary, and applied after the environment's approval; while
applying approved plans, a stack whose upstream just changed outputs it reads is planned again and applied only if it
still makes the same changes (address, deposed key and actions) as the plan that was approved.

`python -m tools.plan_review.saved plan|decide|apply ...` (see --help of each).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.local.deploy import read_stacks
from tools.plan_review.classify import Kind, kind_of
from tools.plan_review.stacks import ANY_OUTPUT, ci_stacks, dependency_order, outputs_read
from tools.terraform_cli import TerraformNotFound, toolchain

META_FILE = "meta.json"
PLAN_FILE = "plan.tfplan"
JSON_FILE = "plan.json"
TEXT_FILE = "plan.txt"
LOCK_FILE = ".terraform.lock.hcl"  # the provider versions and checksums the plan was made with
SAVED_LOCK_FILE = "terraform.lock.hcl"  # saved without its dot: artifact uploads leave hidden files out
APPLY_SAVED, REPLAN = "apply-saved", "replan"
EXIT_FAILED = 1


class SavedPlanError(RuntimeError):
    """A step failed or a saved plan may not be applied; the message says which stack and why."""


@dataclass(frozen=True)
class Terraform:
    """The Terraform binary and the environment its processes get."""

    binary: str
    env: dict[str, str]

    @classmethod
    def detect(cls, extra_env: dict[str, str] | None = None) -> Terraform:
        """The project's Terraform with its offline provider mirror where there is one (tools/terraform_cli.py),
        else `TERRAFORM_BIN` or `terraform` on PATH (CI); this process's environment plus EXTRA_ENV."""
        env = {**os.environ, **(extra_env or {})}
        try:
            tc = toolchain()
        except TerraformNotFound:
            return cls(os.environ.get("TERRAFORM_BIN") or shutil.which("terraform") or "terraform", env)
        return cls(str(tc.binary), tc.env(env))

    def run(self, args: list[str], cwd: Path, *, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.binary, *args], cwd=cwd, env=self.env, text=True, capture_output=True, check=False, timeout=3600
        )
        if proc.returncode not in ok:
            raise SavedPlanError(
                f"terraform {' '.join(args)} failed in {cwd} (exit {proc.returncode}):\n"
                f"{(proc.stderr or proc.stdout).strip()[-3000:]}"
            )
        return proc


@dataclass(frozen=True)
class StateIdentity:
    """Which state a plan was made against: Terraform's own staleness check compares the same two fields."""

    lineage: str
    serial: int


@dataclass(frozen=True)
class PlanContext:
    """What a plan was made from, besides the state."""

    head_sha: str
    tree: str
    pipeline_env: str


@dataclass(frozen=True)
class Meta:
    stack: str
    head_sha: str
    tree: str
    pipeline_env: str
    synth_digest: str
    lineage: str
    serial: int
    refresh_only: bool
    changes: bool  # Terraform's -detailed-exitcode said 2
    changed_outputs: tuple[str, ...]  # names of the outputs the plan changes

    @classmethod
    def read(cls, folder: Path) -> Meta:
        """The meta.json in FOLDER. Those written before the names were recorded say only whether any output
        changes (`output_changes`: true or false): true reads as every output changed, so they stay safe."""
        fields = json.loads((folder / META_FILE).read_text())
        if "output_changes" in fields:
            fields["changed_outputs"] = [ANY_OUTPUT] if fields.pop("output_changes") else []
        return cls(**{**fields, "changed_outputs": tuple(fields["changed_outputs"])})

    def write(self, folder: Path) -> None:
        (folder / META_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")


@dataclass(frozen=True)
class Decision:
    stack: str
    action: str
    reason: str


@dataclass
class Applied:
    stacks: list[str] = field(default_factory=list)
    replanned: list[str] = field(default_factory=list)
    changed_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # stack -> outputs its apply changed


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, text=True, capture_output=True, check=True).stdout.strip()


def current_context(
    *, head_sha: str | None = None, pipeline_env: str | None = None, cwd: Path | None = None
) -> PlanContext:
    """The checked-out tree, the head commit (the pull request's, when the workflow passes it) and PIPELINE_ENV."""
    return PlanContext(
        head_sha=head_sha or git("rev-parse", "HEAD", cwd=cwd),
        tree=git("rev-parse", "HEAD^{tree}", cwd=cwd),
        pipeline_env=pipeline_env or os.environ.get("PIPELINE_ENV", "local"),
    )


def synth_digest(stack_dir: Path) -> str:
    """SHA-256 over the synthesized stack: its Terraform JSON and every asset (Lambda zips) it uploads."""
    digest = hashlib.sha256()
    files = (
        [stack_dir / "cdk.tf.json"] if (stack_dir / "cdk.tf.json").is_file() else sorted(stack_dir.glob("*.tf.json"))
    )
    files += (
        sorted(p for p in (stack_dir / "assets").rglob("*") if p.is_file()) if (stack_dir / "assets").is_dir() else []
    )
    for path in files:
        digest.update(str(path.relative_to(stack_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_initialised(tf: Terraform, stack_dir: Path) -> None:
    """`terraform init` unless it already ran here (a backend recorded, or providers installed and locked)."""
    backend_recorded = (stack_dir / ".terraform" / "terraform.tfstate").is_file()
    providers_locked = (stack_dir / ".terraform").is_dir() and (stack_dir / ".terraform.lock.hcl").is_file()
    if not (backend_recorded or providers_locked):
        tf.run(["init", "-input=false", "-no-color"], stack_dir)


def state_identity(tf: Terraform, stack_dir: Path) -> StateIdentity:
    """Lineage and serial of the stack's current state (empty and 0 when it has none yet)."""
    text = tf.run(["state", "pull"], stack_dir).stdout.strip()
    if not text:
        return StateIdentity("", 0)
    state = json.loads(text)
    return StateIdentity(str(state.get("lineage", "")), int(state.get("serial", 0)))


def _changed_outputs(plan_json: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        sorted(
            name
            for name, change in (plan_json.get("output_changes") or {}).items()
            if kind_of(change.get("actions", [])) is not Kind.NO_OP
        )
    )


def plan_stack(
    tf: Terraform,
    stack_dir: Path,
    out: Path,
    *,
    stack: str,
    context: PlanContext,
    refresh_only: bool = False,
    lock: bool = True,
) -> Meta:
    """Plan STACK_DIR into OUT: the plan file, its JSON and text renderings, and meta.json."""
    out.mkdir(parents=True, exist_ok=True)
    ensure_initialised(tf, stack_dir)
    identity = state_identity(tf, stack_dir)
    plan_file = (out / PLAN_FILE).resolve()
    args = ["plan", "-input=false", "-no-color", "-detailed-exitcode", f"-out={plan_file}"]
    args += ["-refresh-only"] if refresh_only else []
    args += [] if lock else ["-lock=false"]
    code = tf.run(args, stack_dir, ok=(0, 2)).returncode
    shown = tf.run(["show", "-json", str(plan_file)], stack_dir).stdout
    (out / JSON_FILE).write_text(shown)
    if (stack_dir / LOCK_FILE).is_file():  # applied with the same providers, whatever the registry has since
        shutil.copy2(stack_dir / LOCK_FILE, out / SAVED_LOCK_FILE)
    (out / TEXT_FILE).write_text(tf.run(["show", "-no-color", str(plan_file)], stack_dir).stdout)
    meta = Meta(
        stack=stack,
        head_sha=context.head_sha,
        tree=context.tree,
        pipeline_env=context.pipeline_env,
        synth_digest=synth_digest(stack_dir),
        lineage=identity.lineage,
        serial=identity.serial,
        refresh_only=refresh_only,
        changes=code == 2,
        changed_outputs=_changed_outputs(json.loads(shown)),
    )
    meta.write(out)
    return meta


def _why_not(meta: Meta | None, stack_dir: Path, tf: Terraform, context: PlanContext) -> str | None:
    """Why STACK's saved plan may not be applied as it is, or None when it may."""
    if meta is None:
        return "no saved plan from the pull request (not planned, or its artifact expired)"
    if meta.refresh_only:
        return "the saved plan is refresh-only"
    if meta.tree != context.tree:
        return f"the merged tree {context.tree[:12]} is not the reviewed tree {meta.tree[:12]} (main moved on)"
    if meta.pipeline_env != context.pipeline_env:
        return f"reviewed for environment {meta.pipeline_env!r}, deploying {context.pipeline_env!r}"
    if meta.synth_digest != synth_digest(stack_dir):
        return "the synthesized stack differs from the reviewed one"
    ensure_initialised(tf, stack_dir)
    now = state_identity(tf, stack_dir)
    if now.lineage != meta.lineage:
        return f"its state was replaced (lineage {meta.lineage or 'none'} → {now.lineage or 'none'})"
    if now.serial != meta.serial:
        return f"its state changed since the review (serial {meta.serial} → {now.serial})"
    return None


def outputs_affected(read: Collection[str], changed: Collection[str]) -> list[str]:
    """The outputs a stack READs that an upstream's plan CHANGED (ANY_OUTPUT on either side stands for all)."""
    if ANY_OUTPUT in changed:
        return sorted(read)
    if ANY_OUTPUT in read:
        return sorted(changed)
    return sorted(set(read) & set(changed))


def upstream_reason(
    reads: Mapping[str, Collection[str]], replanned: Collection[str], changed: Mapping[str, Collection[str]]
) -> str | None:
    """Why a stack's saved plan is stale because of the stacks it reads directly, or None.

    READS: each direct upstream -> the names of its outputs the stack reads; REPLANNED: the upstreams that are
    re-planned (their new outputs are not known yet: the stack is re-planned too, and so, one direct read at a
    time, is everything downstream of it); CHANGED: the outputs each upstream's applied-as-reviewed plan changes."""
    for upstream in sorted(reads):
        if upstream in replanned:
            return f"it reads {upstream}, which is re-planned"
        affected = outputs_affected(reads[upstream], changed.get(upstream, ()))
        if affected:
            return f"it reads {upstream}'s {', '.join(affected)}, which its reviewed plan changes"
    return None


def decide(outdir: Path, saved: Path, tf: Terraform, context: PlanContext) -> list[Decision]:
    """For each stack, in dependency order: apply the saved plan, or re-plan (with the reason)."""
    stacks = ci_stacks(outdir)
    reads = outputs_read(stacks)
    changed: dict[str, tuple[str, ...]] = {}
    decisions: dict[str, Decision] = {}
    for stack in dependency_order(stacks):
        folder = saved / stack
        meta = Meta.read(folder) if (folder / META_FILE).is_file() and (folder / PLAN_FILE).is_file() else None
        changed[stack] = meta.changed_outputs if meta is not None else (ANY_OUTPUT,)
        replanned = {name for name, d in decisions.items() if d.action != APPLY_SAVED}
        reason = _why_not(meta, stacks[stack].directory, tf, context) or upstream_reason(
            reads[stack], replanned, changed
        )
        decisions[stack] = Decision(
            stack,
            APPLY_SAVED if reason is None else REPLAN,
            reason or "reviewed plan still applies: same tree, environment, synth and state",
        )
    return list(decisions.values())


def fingerprint(plan_json: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """What a plan does, without the values: (address, deposed key, actions) of every change, and each output's
    actions. Two plans with the same fingerprint make the same changes to the same objects."""
    found = [
        (rc["address"], rc.get("deposed") or "", tuple(rc["change"]["actions"]))
        for rc in plan_json.get("resource_changes") or ()
        if kind_of(rc["change"]["actions"]) is not Kind.NO_OP or rc.get("previous_address")
    ]
    found += [
        (f"output.{name}", "", tuple(change["actions"]))
        for name, change in (plan_json.get("output_changes") or {}).items()
        if kind_of(change["actions"]) is not Kind.NO_OP
    ]
    return sorted(found)


def verify_rendering(tf: Terraform, stack_dir: Path, folder: Path) -> None:
    """The plan file must be the one whose JSON was reviewed: `terraform show -json` of it again, compared with
    the saved JSON (an artifact could otherwise pair a reviewed JSON with another plan file)."""
    shown = json.loads(tf.run(["show", "-json", str((folder / PLAN_FILE).resolve())], stack_dir).stdout)
    if shown != json.loads((folder / JSON_FILE).read_text()):
        raise SavedPlanError(f"{folder}: the plan file is not the plan that was reviewed (its JSON differs)")


def apply_plans(
    tf: Terraform,
    outdir: Path,
    plans: Path,
    stacks: list[str],
    context: PlanContext,
    *,
    replan_if_upstream_changed: bool = False,
    applied_to: Path | None = None,
) -> Applied:
    """Apply each stack's plan under PLANS, in the given (dependency) order, stopping at the first that may not
    be applied. A stack whose direct upstream changed outputs it reads in this run is re-planned when
    REPLAN_IF_UPSTREAM_CHANGED and applied only if its fingerprint matches the plan under PLANS."""
    infos = ci_stacks(outdir)
    reads = outputs_read(infos)
    applied = Applied()
    for stack in stacks:
        stack_dir, folder = infos[stack].directory, plans / stack
        meta = Meta.read(folder)
        saved_lock = folder / SAVED_LOCK_FILE
        if saved_lock.is_file() and not (stack_dir / LOCK_FILE).is_file():
            shutil.copy2(saved_lock, stack_dir / LOCK_FILE)
        ensure_initialised(tf, stack_dir)
        if meta.synth_digest != synth_digest(stack_dir):
            raise SavedPlanError(f"{stack}: the synthesized stack differs from the one planned")
        now = state_identity(tf, stack_dir)
        if (now.lineage, now.serial) != (meta.lineage, meta.serial):
            raise SavedPlanError(
                f"{stack}: its state changed since the plan (serial {meta.serial} → {now.serial}, "
                "or a new lineage): re-run the workflow to review a new plan"
            )
        verify_rendering(tf, stack_dir, folder)
        plan_dir = folder
        affected = {
            upstream: names
            for upstream, read in sorted(reads[stack].items())
            if (names := outputs_affected(read, applied.changed_outputs.get(upstream, ())))
        }
        changed_upstream = list(affected)
        if changed_upstream:
            if not replan_if_upstream_changed:
                raise SavedPlanError(
                    f"{stack}: {', '.join(changed_upstream)} changed outputs it reads, so its plan is stale ("
                    + "; ".join(f"{upstream}: {', '.join(names)}" for upstream, names in affected.items())
                    + ")"
                )
            plan_dir = folder / "replanned"
            plan_stack(tf, stack_dir, plan_dir, stack=stack, context=context)
            approved = fingerprint(json.loads((folder / JSON_FILE).read_text()))
            now_planned = fingerprint(json.loads((plan_dir / JSON_FILE).read_text()))
            if approved != now_planned:
                difference = sorted(set(approved) ^ set(now_planned))[:10]
                raise SavedPlanError(
                    f"{stack}: after {', '.join(changed_upstream)} changed its outputs, the new plan "
                    f"makes different changes than the approved one ({difference}): re-run the "
                    "workflow to review it"
                )
            applied.replanned.append(stack)
        tf.run(
            ["apply", "-input=false", "-no-color", "-auto-approve", str((plan_dir / PLAN_FILE).resolve())], stack_dir
        )
        applied.stacks.append(stack)
        applied.changed_outputs[stack] = Meta.read(plan_dir).changed_outputs
        if applied_to is not None:
            (applied_to / stack).mkdir(parents=True, exist_ok=True)
            shutil.copy2(plan_dir / JSON_FILE, applied_to / stack / JSON_FILE)
    return applied


def _decision_summary(decisions: list[Decision]) -> str:
    rows = "".join(f"| `{d.stack}` | {d.action} | {d.reason} |\n" for d in decisions)
    return "### Reviewed plans\n\n| Stack | Decision | Why |\n|---|---|---|\n" + rows


def _cmd_plan(args: argparse.Namespace, tf: Terraform) -> int:
    context = current_context(head_sha=args.head_sha, pipeline_env=args.pipeline_env)
    infos = read_stacks(args.outdir) if args.include_bootstrap else ci_stacks(args.outdir)
    unknown = sorted(set(args.stack) - set(infos))
    if unknown:
        raise SavedPlanError(
            f"no stack {', '.join(unknown)} to plan in {args.outdir} (stacks: {', '.join(infos)}; "
            "the bootstrap `state` is not planned by CI)"
        )

    def one(stack: str) -> Meta:
        return plan_stack(
            tf,
            infos[stack].directory,
            args.to / stack,
            stack=stack,
            context=context,
            refresh_only=args.refresh_only,
            lock=not args.no_lock,
        )

    with ThreadPoolExecutor(max(1, min(len(args.stack), os.cpu_count() or 1))) as pool:
        metas = list(pool.map(one, args.stack))
    for meta in metas:
        print(f"{meta.stack}: {'changes' if meta.changes else 'no changes'} (state serial {meta.serial})")
    return 0


def _cmd_decide(args: argparse.Namespace, tf: Terraform) -> int:
    context = current_context(pipeline_env=args.pipeline_env)
    decisions = decide(args.outdir, args.saved, tf, context)
    print(_decision_summary(decisions))
    if args.github_output:
        with Path(args.github_output).open("a") as out:
            for action, key in ((APPLY_SAVED, "apply-saved"), (REPLAN, "replan")):
                out.write(f"{key}={' '.join(d.stack for d in decisions if d.action == action)}\n")
    if args.decisions:
        args.decisions.write_text(json.dumps([asdict(d) for d in decisions], indent=2) + "\n")
    return 0


def _cmd_apply(args: argparse.Namespace, tf: Terraform) -> int:
    context = current_context(pipeline_env=args.pipeline_env)
    applied = apply_plans(
        tf,
        args.outdir,
        args.plans,
        args.stack,
        context,
        replan_if_upstream_changed=args.replan_if_upstream_changed,
        applied_to=args.applied_to,
    )
    print(
        f"applied: {' '.join(applied.stacks) or 'nothing'}"
        + (
            f"; re-planned after an upstream change (same changes as approved): {' '.join(applied.replanned)}"
            if applied.replanned
            else ""
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan_review.saved",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="plan stacks and save plan file, JSON, text and meta.json per stack")
    plan.add_argument("--outdir", type=Path, default=Path("cdktf.out"), help="the synthesized stacks")
    plan.add_argument("--stack", nargs="+", action="extend", required=True, help="the stacks to plan")
    plan.add_argument("--to", type=Path, required=True, help="folder that receives <stack>/plan.tfplan ...")
    plan.add_argument("--refresh-only", action="store_true", help="a refresh-only plan (the drift check)")
    plan.add_argument("--no-lock", action="store_true", help="-lock=false: a read-only role cannot write locks")
    plan.add_argument("--head-sha", default=None, help="the pull request's head commit (default: HEAD)")
    plan.add_argument("--pipeline-env", default=None, help="default: $PIPELINE_ENV")
    plan.add_argument("--include-bootstrap", action="store_true", help="allow the bootstrap `state` stack")
    plan.set_defaults(handler=_cmd_plan)
    decide_ = commands.add_parser("decide", help="per stack: apply the saved plan, or re-plan (and why)")
    decide_.add_argument("--outdir", type=Path, default=Path("cdktf.out"))
    decide_.add_argument("--saved", type=Path, required=True, help="the pull request's saved plans, per stack")
    decide_.add_argument("--pipeline-env", default=None)
    decide_.add_argument("--github-output", default=None, help="append apply-saved=... and replan=... here")
    decide_.add_argument("--decisions", type=Path, default=None, help="write the decisions as JSON here")
    decide_.set_defaults(handler=_cmd_decide)
    apply = commands.add_parser("apply", help="apply saved plans in the given order")
    apply.add_argument("--outdir", type=Path, default=Path("cdktf.out"))
    apply.add_argument("--plans", type=Path, required=True)
    apply.add_argument("--stack", nargs="+", action="extend", required=True, help="the stacks, in dependency order")
    apply.add_argument("--pipeline-env", default=None)
    apply.add_argument(
        "--replan-if-upstream-changed",
        action="store_true",
        help="re-plan a stack whose upstream changed outputs in this run; apply it only if it makes "
        "the same changes as the approved plan",
    )
    apply.add_argument("--applied-to", type=Path, default=None, help="copy each applied plan.json here")
    apply.set_defaults(handler=_cmd_apply)
    return parser


def main(argv: list[str] | None = None, tf: Terraform | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args, tf or Terraform.detect()))
    except (SavedPlanError, subprocess.CalledProcessError, OSError, KeyError) as exc:
        print(f"saved plans: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
