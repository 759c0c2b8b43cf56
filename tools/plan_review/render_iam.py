"""The IAM part of the comment: what widens access first, then every changed policy statement by statement."""

from __future__ import annotations

from tools.plan_review.fit import Section
from tools.plan_review.iam import PolicyChange, StatementDiff
from tools.plan_review.markdown import PRIORITY_CHANGES, PRIORITY_WARNING, code, escape, plural
from tools.plan_review.review import Review

_ACTION_SYMBOLS = {"create": "`+`", "update": "`~`", "delete": "`-`"}
_KIND_NAMES = {
    "identity": "identity policy",
    "trust": "trust policy",
    "bucket": "bucket policy",
    "queue": "queue policy",
    "topic": "topic policy",
    "key": "key policy",
    "repository": "repository policy",
    "secret": "secret policy",
    "endpoint": "endpoint policy",
    "log": "log resource policy",
    "attachment": "managed policy attachment",
}


def _where(change: PolicyChange) -> str:
    deposed = f" (deposed object {code(change.deposed)})" if change.deposed else ""
    return (
        f"{code(change.address)}{deposed} in {code(change.stack)} — {_KIND_NAMES.get(change.kind, change.kind)}"
        f" ({code(change.attribute)})"
    )


def _values(values: list[str]) -> str:
    return ", ".join(code(value) for value in values)


def statement_line(diff: StatementDiff, warnings: list[str], indent: str = "  ") -> str:
    if diff.status == "added":
        parts = [f"{name} {_values(values)}" for name, values in diff.added.items()]
        parts += [f"condition {code(c)}" for c in diff.conditions_added]
        text = f"statement {diff.label} **added** ({diff.effect}): " + "; ".join(parts)
    elif diff.status == "removed":
        parts = [f"{name} {_values(values)}" for name, values in diff.removed.items()]
        text = f"statement {diff.label} **removed** ({diff.effect}): " + "; ".join(parts)
    else:
        parts = []
        if diff.effect_before:
            parts.append(f"effect {diff.effect_before} → {diff.effect}")
        parts += [f"{name} added: {_values(values)}" for name, values in diff.added.items()]
        parts += [f"{name} removed: {_values(values)}" for name, values in diff.removed.items()]
        parts += [f"condition added: {code(c)}" for c in diff.conditions_added]
        parts += [f"condition removed: {code(c)}" for c in diff.conditions_removed]
        text = f"statement {diff.label} ({diff.effect}): " + "; ".join(parts)
    line = f"{indent}- {text}\n"
    if warnings:
        line += f"{indent}  - ⚠️ widens access: {'; '.join(warnings)}\n"
    return line


def _policy_item(change: PolicyChange) -> str:
    line = f"- {_ACTION_SYMBOLS.get(change.action, '`~`')} {_where(change)}"
    if change.unavailable:
        return line + f": {escape(change.unavailable)}\n"
    by_statement: dict[str, list[str]] = {}
    for widening in change.widening:
        by_statement.setdefault(widening.statement, []).append(widening.detail)
    return line + "\n" + "".join(statement_line(diff, by_statement.get(diff.label, [])) for diff in change.statements)


def iam_sections(review: Review) -> list[Section]:
    changes = [change for stack in review.stacks for change in stack.iam]
    if not changes:
        return []
    widening = [(change, w) for change in changes for w in change.widening]
    masked = sum(1 for change in changes if change.unavailable)
    head = f"### IAM changes: {plural(len(changes), 'policy', 'policies')} changed"
    head += f", {plural(len(widening), 'change')} widen access\n\n" if widening else "\n\n"
    sections = []
    if widening:
        sections.append(
            Section(
                head=head + f"> [!WARNING]\n> **{plural(len(widening), 'grant')} widen access:**\n>\n",
                items=[
                    f"> - {code(change.address)} in {code(change.stack)} "
                    f"({_KIND_NAMES.get(change.kind, change.kind)}), statement {w.statement}: {w.detail}\n"
                    for change, w in widening
                ],
                tail="\n",
                priority=PRIORITY_WARNING,
                more="> - … {count} more omitted (comment size limit)\n",
            )
        )
        head = ""
    note = (
        (
            f"{plural(masked, 'policy', 'policies')} cannot be shown statement by statement (masked as sensitive, or "
            "known only after apply): said so below, never guessed.\n\n"
        )
        if masked
        else ""
    )
    sections.append(
        Section(
            head=head + note, items=[_policy_item(change) for change in changes], tail="\n", priority=PRIORITY_CHANGES
        )
    )
    return sections
