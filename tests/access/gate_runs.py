"""The gate's answer as the access tests read it, and the step most mutation tests share: take one action out of a
role's identity policies on a copy of the stacks, run the gate, and look at what it now denies that role."""

from __future__ import annotations

from collections.abc import Callable

from tests.access.mutations import StacksCopy, edit_policy, identity_policy_blocks, without_action
from tools.access_check import check
from tools.access_check.evaluate import Decision


def denials_of(result: check.Result, principal: str, action: str) -> list[Decision]:
    return [d for d in result.denials if d.request.principal == principal and d.request.action == action]


def allowed(result: check.Result, principal: str, action: str, resource: str) -> bool:
    return any(
        d.allowed
        for d in result.evaluation.decisions
        if (d.request.principal, d.request.action, d.request.resource) == (principal, action, resource)
    )


def gate_without_action(
    copy: StacksCopy, role: str, action: str, where: Callable[[list[str]], bool] = lambda resources: True
) -> tuple[check.Result, list[Decision]]:
    """Take ACTION out of ROLE's identity policies in COPY (from the statements whose resources satisfy WHERE) and
    run the gate: its result, and its denials of ACTION to ROLE for the test to pick from."""
    for block in identity_policy_blocks(copy, role):
        edit_policy(copy, block, "policy", without_action(action, where))
    result = check.run(copy.root)
    return result, denials_of(result, role, action)
