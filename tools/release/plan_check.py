"""Does a plan contain exactly a model release? The new model and endpoint configuration (each replaced: created
before the old one goes) and the endpoint updated in place to the new configuration; nothing else in any stack.

Why check it: a release is the change people make most often and review least. Anything else riding along (a
policy change, a replaced endpoint, a dashboard) deserves its own review, and a replaced endpoint is downtime.

A baseline (plans of the same stacks before the release, with nothing changed) tells apart differences that are
there on every plan: on the local emulator, moto echoes some arguments back differently (README, "Emulator
gaps"), so each plan shows them whatever the change. A change the baseline holds identically (same actions,
same values before and after) is standing, not the release's; anything else still fails the check.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tools.plan_review.classify import Kind, kind_of
from tools.plan_review.model import Change, StackPlan
from tools.plan_review.values import attribute_changes

RELEASE_STACK = "inference"
EXPECTED: dict[str, Kind] = {
    "aws_sagemaker_model": Kind.REPLACE,
    "aws_sagemaker_endpoint_configuration": Kind.REPLACE,
    "aws_sagemaker_endpoint": Kind.CHANGE,
}
ENDPOINT_ATTRIBUTES = {"endpoint_config_name"}  # all an in-place release may change on the endpoint


@dataclass(frozen=True)
class ReleasePlan:
    counts: dict[str, Counter]  # stack -> kind -> resources the release changes
    problems: list[str]  # one line per unexpected or missing change (empty: exactly a release)
    standing: list[str]  # stack: address of changes the baseline shows identically (not the release's)


def check_release_plan(plans: list[StackPlan], baseline: list[StackPlan] = ()) -> ReleasePlan:
    standing_changes = {(plan.stack, change.address): change.change for plan in baseline
                        for change in plan.resource_changes}
    counts: dict[str, Counter] = {}
    seen: Counter = Counter()
    problems, standing = [], []
    for plan in plans:
        counts[plan.stack] = Counter()
        for change in plan.resource_changes:
            kind = kind_of(change.change.actions)
            if kind in (Kind.NO_OP, Kind.READ):
                continue
            if _same_change(standing_changes.get((plan.stack, change.address)), change.change):
                standing.append(f"{plan.stack}: {change.address}")
                continue
            counts[plan.stack][kind.value] += 1
            if plan.stack != RELEASE_STACK or EXPECTED.get(change.type) != kind:
                problems.append(f"{plan.stack}: {kind.value} {change.address} is not part of a model release")
                continue
            seen[change.type] += 1
            if change.type == "aws_sagemaker_endpoint":
                changed = {item.path.split(".")[0].split("[")[0] for item in attribute_changes(
                    change.change.before, change.change.after, after_unknown=change.change.after_unknown)}
                extra = sorted(changed - ENDPOINT_ATTRIBUTES - {"tags_all", "id"})
                if extra:
                    problems.append(f"{plan.stack}: {change.address} changes {', '.join(extra)} besides the "
                                    f"configuration: not only a model release")
    for resource_type, kind in EXPECTED.items():
        if not seen[resource_type]:
            problems.append(f"{RELEASE_STACK}: no {kind.value} of an {resource_type}: the plan does not release a model")
    if seen["aws_sagemaker_endpoint"] > 1:
        problems.append(f"{RELEASE_STACK}: {seen['aws_sagemaker_endpoint']} endpoints change, one expected")
    return ReleasePlan(counts=counts, problems=problems, standing=standing)


def _same_change(before: Change | None, now: Change) -> bool:
    return before is not None and (before.actions, before.before, before.after, before.after_unknown) == (
        now.actions, now.before, now.after, now.after_unknown)


def suspect_stacks(result: ReleasePlan) -> list[str]:
    """Stacks whose changes the check refused: the ones a baseline plan may explain."""
    return sorted({problem.split(":", 1)[0] for problem in result.problems
                   if " is not part of a model release" in problem or " besides the configuration" in problem})


def render_counts(counts: dict[str, Counter]) -> str:
    """`inference: 2 replace, 1 change; api: no changes; ...`."""
    parts = []
    for stack, kinds in counts.items():
        shown = ", ".join(f"{number} {kind}" for kind, number in sorted(kinds.items()))
        parts.append(f"{stack}: {shown or 'no changes'}")
    return "; ".join(parts)
