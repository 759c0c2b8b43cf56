"""The review's gates: stateful destruction and cost increase, each waived by one pull-request label.

Why in the tool and not in each workflow: the plan workflow, the deploy workflow's reviewed path and its re-plan
path all gate the same way, on the labels of the same pull request. One tested function decides; workflows pass
the labels and act on the exit code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tools.plan_review.cost import CostLimit, money
from tools.plan_review.review import Review

ALLOW_DESTROY_LABEL = "allow-destroy"
ALLOW_COST_INCREASE_LABEL = "allow-cost-increase"
EXIT_OK = 0
EXIT_STATEFUL_DESTRUCTION = 3
EXIT_COST_INCREASE = 4
NAMED_IN_A_VERDICT = 10  # the verdict is never cut from the comment, so it names this many and counts the rest


@dataclass(frozen=True)
class Gate:
    """One gate's verdict: TRIPPED when its condition holds, WAIVED when a label accepts it anyway."""

    name: str
    exit_code: int
    label: str
    tripped: bool
    waived: bool
    detail: str

    @property
    def blocks(self) -> bool:
        return self.tripped and not self.waived


def parse_labels(text: str | None) -> frozenset[str]:
    """Labels as a JSON list (what `toJSON(github.event.pull_request.labels.*.name)` gives) or comma-separated."""
    if not text or not text.strip():
        return frozenset()
    stripped = text.strip()
    if stripped.startswith("["):
        return frozenset(str(label) for label in json.loads(stripped))
    return frozenset(label.strip() for label in stripped.split(",") if label.strip())


def evaluate_gates(
    review: Review, *, fail_on_destroy: bool, cost_limit: CostLimit | None, labels: frozenset[str] = frozenset()
) -> list[Gate]:
    """The gates asked for, in the order their exit codes take precedence (destruction first)."""
    gates = []
    if fail_on_destroy:
        stateful = review.stateful_destructive()
        named = ", ".join(stateful[:NAMED_IN_A_VERDICT])
        more = f" and {len(stateful) - NAMED_IN_A_VERDICT} more" if len(stateful) > NAMED_IN_A_VERDICT else ""
        gates.append(
            Gate(
                "stateful destruction",
                EXIT_STATEFUL_DESTRUCTION,
                ALLOW_DESTROY_LABEL,
                bool(stateful),
                ALLOW_DESTROY_LABEL in labels,
                f"stateful resources would be destroyed or replaced: {named}{more}"
                if stateful
                else "no stateful resource is destroyed or replaced",
            )
        )
    if cost_limit is not None:
        before, after = review.cost_before, review.cost_after
        tripped = review.cost_exceeds(cost_limit)
        change = f"{money(before)} → {money(after)} ({money(after - before, sign=True)}) per month"
        gates.append(
            Gate(
                "cost increase",
                EXIT_COST_INCREASE,
                ALLOW_COST_INCREASE_LABEL,
                tripped,
                ALLOW_COST_INCREASE_LABEL in labels,
                f"the fixed monthly cost rises more than the limit of {cost_limit}: {change}"
                if tripped
                else f"within the limit of {cost_limit}: {change}",
            )
        )
    return gates


def exit_code(gates: list[Gate]) -> int:
    return next((gate.exit_code for gate in gates if gate.blocks), EXIT_OK)
