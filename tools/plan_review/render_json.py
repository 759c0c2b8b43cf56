"""The machine-readable review: per stack its counts, destructive and deposed objects, the drift Terraform
reports, its IAM changes (`iam_changes[]`) and its fixed monthly cost; for the whole review the cost totals,
the traffic-driven unit prices and the gates.

What it carries: addresses, actions, attribute paths, costs, and the statements of policies whose values
Terraform does not mask. Never an attribute value otherwise, so nothing sensitive can leak through this format.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tools.plan_review.classify import COUNTED_COLUMNS, kind_of
from tools.plan_review.cost import Estimate, Free, ResourceCost, StackCost, Unpriced, assumptions
from tools.plan_review.gates import Gate
from tools.plan_review.iam import PolicyChange
from tools.plan_review.relevance import DriftItem
from tools.plan_review.review import Review, StackReview


def usd(amount: Decimal) -> float:
    """AMOUNT in dollars and cents, as a JSON number."""
    return float(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _percent(before: Decimal, after: Decimal) -> float | None:
    return None if not before else float(((after - before) / before * 100).quantize(Decimal("0.1")))


def _outcome(outcome: Estimate | Free | Unpriced | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    if isinstance(outcome, Free):
        return {"monthly": 0.0, "no_charge": outcome.reason}
    if isinstance(outcome, Unpriced):
        return {"not_priced": outcome.reason}
    return {
        "monthly": usd(outcome.monthly),
        "uncertain": outcome.uncertain,
        "ceiling": usd(outcome.ceiling) if outcome.ceiling is not None else None,
        "charges": [
            {
                "what": c.what,
                "quantity": float(c.quantity),
                "unit": c.price.unit,
                "unit_price": float(c.price.usd),
                "price": c.price.key if c.price.member is None else f"{c.price.key}[{c.price.member}]",
                "source": c.price.source,
                "monthly": usd(c.monthly),
            }
            for c in outcome.charges
        ],
    }


def _resource_cost(resource: ResourceCost) -> dict[str, Any]:
    return {
        "address": resource.address,
        "deposed": resource.deposed,
        "type": resource.resource_type,
        "before": _outcome(resource.before),
        "after": _outcome(resource.after),
        "note": resource.note,
    }


def _cost(cost: StackCost | None) -> dict[str, Any] | None:
    if cost is None:
        return None
    return {
        "regions": list(cost.regions),
        "before": usd(cost.before),
        "after": usd(cost.after),
        "difference": usd(cost.difference),
        "difference_percent": _percent(cost.before, cost.after),
        "uncertain": cost.uncertain,
        "resources": [_resource_cost(r) for r in cost.priced],
        "not_priced": [
            {"address": r.address, "deposed": r.deposed, "type": r.resource_type, "reason": r.unpriced_reason}
            for r in cost.not_priced
        ],
    }


def _drift(item: DriftItem) -> dict[str, Any]:
    action = "delete" if item.deleted else ("move" if item.moved and not item.attributes else "update")
    return {
        "address": item.change.address,
        "deposed": item.change.deposed,
        "action": action,
        "previous_address": item.change.previous_address if item.moved else None,
        "attributes": [a.path for a in item.attributes],
        "only_empty_flips": item.only_empty_flips,
    }


def _iam(change: PolicyChange) -> dict[str, Any]:
    record = asdict(change)
    record.pop("stack")
    record["widens_access"] = bool(change.widening)
    return record


def stack_record(stack: StackReview) -> dict[str, Any]:
    """One stack's entry: every counted column, destroyed-or-replaced addresses of current objects and their
    stateful subset, deposed objects apart, then drift, IAM changes and cost."""
    summary = stack.summary
    current = [item for item in summary.destructive if item.change.deposed is None]
    stateful_deposed = {
        (item.change.address, item.change.deposed): item.stateful for item in summary.destructive if item.change.deposed
    }
    record: dict[str, Any] = {
        "stack": stack.stack,
        "mode": "refresh-only" if stack.plan.refresh_only else "normal",
        **{column: summary.counts[column] for column in COUNTED_COLUMNS},
        "destructive": [item.change.address for item in current],
        "stateful_destructive": [item.change.address for item in current if item.stateful],
        "deposed": [
            {
                "address": c.address,
                "deposed": c.deposed,
                "action": kind_of(c.change.actions).value,
                "stateful": stateful_deposed.get((c.address, c.deposed)),
            }
            for c in stack.plan.resource_changes
            if c.deposed
        ],
        "drift": [_drift(item) for item in stack.drift],
        "iam_changes": [_iam(change) for change in stack.iam],
        "cost": _cost(stack.cost),
    }
    if stack.plan.refresh_only:
        record["state_writes"] = {
            "removed": [item.change.address for item in stack.drift if item.deleted],
            "moved": [
                item.change.address for item in stack.drift if item.moved and not item.deleted and not item.attributes
            ],
            "updated": [item.change.address for item in stack.drift if not item.deleted and item.attributes],
        }
    return record


def render_json(review: Review, gates: list[Gate] = ()) -> str:
    region = next((r for c in review.costed for r in c.regions), None)
    document = {
        "stacks": [stack_record(stack) for stack in review.stacks],
        "cost": {
            "currency": review.table.currency,
            "prices_as_of": review.table.as_of.isoformat(),
            "before": usd(review.cost_before),
            "after": usd(review.cost_after),
            "difference": usd(review.cost_after - review.cost_before),
            "difference_percent": _percent(review.cost_before, review.cost_after),
            "usage_prices": [
                {
                    "item": u.price.key,
                    "label": u.price.label,
                    "region": u.price.region,
                    "unit": u.price.unit,
                    "unit_price": float(u.price.usd),
                    "uncertain": u.price.uncertain,
                    "source": u.price.source,
                    "resource_types": list(u.resource_types),
                }
                for u in review.usage
            ],
            "assumptions": assumptions(review.table, region),
        },
        "stateful_destructive": review.stateful_destructive(),
        "gates": [
            {
                "name": gate.name,
                "tripped": gate.tripped,
                "waived_by": gate.label if gate.waived else None,
                "blocks": gate.blocks,
                "exit_code": gate.exit_code,
                "detail": gate.detail,
            }
            for gate in gates
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
