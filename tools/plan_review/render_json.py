"""The machine-readable review: counts and destructive addresses per stack, for scripts and CI gates."""

from __future__ import annotations

import json
from typing import Any

from tools.plan_review.classify import COUNTED_COLUMNS, StackSummary, summarize
from tools.plan_review.model import StackPlan


def stack_record(summary: StackSummary) -> dict[str, Any]:
    """One stack's entry: every counted column, then the destroyed-or-replaced addresses and their stateful
    subset (addresses only: no values, so nothing sensitive can leak through this format)."""
    return {
        "stack": summary.stack,
        **{column: summary.counts[column] for column in COUNTED_COLUMNS},
        "destructive": [item.change.address for item in summary.destructive],
        "stateful_destructive": [item.change.address for item in summary.stateful_destructive],
    }


def render_json(plans: list[StackPlan]) -> str:
    return json.dumps({"stacks": [stack_record(summarize(plan)) for plan in plans]}, indent=2) + "\n"
