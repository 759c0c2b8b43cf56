"""Everything the review says about a set of plans, computed once: both renderers and the gates read it.

Each stack gets its counts and destructive changes (classify), the drift Terraform reports (relevance), its IAM
changes (iam) and its fixed monthly cost (cost); the review as a whole gets the usage-based unit prices and the
totals. One pass over each plan's resource changes per concern, each linear in the plan's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tools.plan_review.classify import StackSummary, summarize
from tools.plan_review.cost import CostLimit, StackCost, UsagePrice, stack_cost, usage_prices
from tools.plan_review.iam import PolicyChange, iam_changes
from tools.plan_review.model import StackPlan
from tools.plan_review.prices import PriceTable
from tools.plan_review.relevance import DriftItem, reported_drift


@dataclass(frozen=True)
class StackReview:
    plan: StackPlan
    summary: StackSummary
    drift: list[DriftItem]
    iam: list[PolicyChange]
    cost: StackCost | None

    @property
    def stack(self) -> str:
        return self.plan.stack


@dataclass(frozen=True)
class Review:
    stacks: list[StackReview]
    usage: list[UsagePrice]
    table: PriceTable
    region: str | None = None

    @property
    def plans(self) -> list[StackPlan]:
        return [s.plan for s in self.stacks]

    @property
    def costed(self) -> list[StackCost]:
        return [s.cost for s in self.stacks if s.cost is not None]

    @property
    def cost_before(self) -> Decimal:
        return sum((c.before for c in self.costed), Decimal(0))

    @property
    def cost_after(self) -> Decimal:
        return sum((c.after for c in self.costed), Decimal(0))

    @property
    def all_refresh_only(self) -> bool:
        return bool(self.stacks) and all(s.plan.refresh_only for s in self.stacks)

    def stateful_destructive(self) -> list[str]:
        """`stack:address` of every stateful object the plans destroy or replace (deposed objects included)."""
        found = []
        for stack in self.stacks:
            for item in stack.summary.stateful_destructive:
                suffix = f" (deposed object {item.change.deposed})" if item.change.deposed else ""
                found.append(f"{stack.stack}:{item.change.address}{suffix}")
        return found

    def cost_exceeds(self, limit: CostLimit | None) -> bool:
        return limit is not None and limit.exceeded(self.cost_before, self.cost_after)


def build_review(plans: list[StackPlan], table: PriceTable, *, region: str | None = None) -> Review:
    stacks = [
        StackReview(
            plan=plan,
            summary=summarize(plan),
            drift=reported_drift(plan),
            iam=iam_changes(plan),
            cost=stack_cost(plan, table, region),
        )
        for plan in plans
    ]
    return Review(stacks=stacks, usage=usage_prices(plans, table, region), table=table, region=region)
