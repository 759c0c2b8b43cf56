"""Render a gate run: markdown for people (per principal: allowed with the deciding statement, denied with why;
unused grants as warnings), JSON for scripts, and the one-line-per-denial summary."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from tools.access_check.check import Result
from tools.access_check.evaluate import Decision


def principal_label(result: Result, principal: str) -> str:
    return result.labels.get(principal, principal)


def denial_line(result: Result, decision: Decision) -> str:
    request = decision.request
    why = f"; needed because {request.why}" if request.why else ""
    return (
        f"DENIED {principal_label(result, request.principal)} {request.action} {request.resource}: "
        f"{decision.reason}{why} [{request.origin}]"
    )


def deciding(decision: Decision) -> str:
    parts = []
    for grant in decision.grants:
        kind = grant.get("policyType", "")
        sid = grant.get("statementId") or f"#{grant.get('statementIndex')}"
        where = grant.get("policyIdentifier") if kind != "resource" else decision.resource_policy or "resource policy"
        parts.append(f"{sid} ({where})")
    return ", ".join(parts) or "-"


def counts(result: Result) -> dict[str, int]:
    return {
        "principals": len(result.principals),
        "recorded_calls": result.recorded_calls,
        "declared_calls": result.declared_calls,
        "requests_evaluated": len(result.evaluation.decisions),
        "statements_evaluated": result.evaluation.statements_evaluated,
        "denied": len(result.denials),
        "unused_grants": len(result.unused),
        "unused_grants_unexplained": len(result.unexplained_unused),
    }


def render_markdown(result: Result) -> str:
    numbers = counts(result)
    lines = [
        f"# Access check: {result.stacks} (account {result.account}, {result.region})",
        "",
        f"{numbers['requests_evaluated']} authorizations for {numbers['principals']} principals "
        f"({numbers['recorded_calls']} recorded calls, {numbers['declared_calls']} declared calls) against "
        f"{numbers['statements_evaluated']} policy statements, evaluated by @cloud-copilot/iam-simulate "
        f"{result.evaluation.simulator} (iam-data {result.evaluation.iam_data}).",
        "",
    ]
    if result.denials:
        lines += [f"## Denied ({len(result.denials)})", ""]
        lines += [f"- {denial_line(result, decision)}" for decision in result.denials]
        lines.append("")
    else:
        lines += ["## Denied: none", ""]
    if result.unproven:
        lines += [f"## Runtimes without a call manifest ({len(result.unproven)}): their calls are not proven", ""]
        lines += [f"- {runtime}" for runtime in result.unproven] + [""]
    lines += ["## Allowed, per principal", ""]
    by_principal: dict[str, list[Decision]] = defaultdict(list)
    for decision in result.evaluation.decisions:
        if decision.allowed:
            by_principal[decision.request.principal].append(decision)
    for principal in sorted(by_principal):
        lines += [
            f"### {principal_label(result, principal)}",
            "",
            "| action | resource | decided by | needed by |",
            "|---|---|---|---|",
        ]
        for decision in sorted(by_principal[principal], key=lambda d: (d.request.action, d.request.resource)):
            request = decision.request
            lines.append(f"| {request.action} | `{request.resource}` | {deciding(decision)} | {request.origin} |")
        lines.append("")
    lines += [f"## Unused grants ({len(result.unused)}: {len(result.unexplained_unused)} unexplained, warnings)", ""]
    for grant in result.unused:
        suffix = f" (accepted: {grant.explanation})" if grant.explanation else ""
        lines.append(f"- {grant.describe()}{suffix}")
    lines += ["", "## Components", ""]
    for status in result.components:
        how = "recorded" if status.recorded else "declared"
        where = f"runs as {status.role}" if status.role else "not deployed in this environment"
        lines.append(f"- {status.component}: {status.calls} {how} calls, {where}")
        lines += [f"  - not applicable here: {item}" for item in status.not_applicable]
    return "\n".join(lines) + "\n"


def render_json(result: Result) -> str:
    def decision_json(decision: Decision) -> dict[str, Any]:
        request = decision.request
        return {
            "principal": request.principal,
            "principal_label": principal_label(result, request.principal),
            "action": request.action,
            "resource": request.resource,
            "context": request.context,
            "decision": decision.decision,
            "source": request.source,
            "origin": request.origin,
            "decided_by": decision.grants,
            "reason": decision.reason,
            "absent_context_keys": decision.absent_context_keys,
        }

    document = {
        "stacks": str(result.stacks),
        "account": result.account,
        "region": result.region,
        "simulator": result.evaluation.simulator,
        "iam_data": result.evaluation.iam_data,
        "counts": counts(result),
        "denials": [decision_json(d) for d in result.denials],
        "unproven_runtimes": result.unproven,
        "allowed": [decision_json(d) for d in result.evaluation.decisions if d.allowed],
        "unused_grants": [
            {
                "policy": g.policy,
                "sid": g.sid,
                "action": g.action,
                "resource": g.resource,
                "principal": g.principal,
                "explanation": g.explanation,
            }
            for g in result.unused
        ],
        "components": [
            {
                "component": s.component,
                "recorded": s.recorded,
                "role": s.role,
                "calls": s.calls,
                "not_applicable": s.not_applicable,
            }
            for s in result.components
        ],
    }
    return json.dumps(document, indent=2) + "\n"
