"""The pull-request comment: destruction warning, summary table, cost, IAM changes, per-stack details, outputs and
drift.

Why this layout: a reviewer's first question is "does this lose data?", so the warning comes first and names
every destroyed or replaced resource with what forces it; the table answers "how big is it?"; cost and IAM answer
"what will it cost?" and "who can now do what?"; the rest is detail, collapsed where it is long. The hidden marker
on the first line lets the workflow find and update this one comment instead of adding a new one on every push.
A set of refresh-only plans (the drift check) becomes a drift review: what changed outside Terraform, and what
applying them would write to state.
"""

from __future__ import annotations

from tools.plan_review.classify import COUNTED_COLUMNS, DestructiveChange, Kind, StackSummary, describe_reason, kind_of
from tools.plan_review.fit import GITHUB_COMMENT_LIMIT, Section, fit
from tools.plan_review.gates import Gate
from tools.plan_review.iam import PolicyUnreadable, policy_kind, statement_changes
from tools.plan_review.markdown import (
    PRIORITY_CHANGES,
    PRIORITY_DETAIL,
    PRIORITY_FRAME,
    PRIORITY_OUTPUTS,
    PRIORITY_WARNING,
    cell,
    code,
    escape,
    plural,
)
from tools.plan_review.model import OutputChange, ResourceChange
from tools.plan_review.relevance import DriftItem
from tools.plan_review.render_cost import cost_sections
from tools.plan_review.render_iam import iam_sections, statement_line
from tools.plan_review.review import Review, StackReview
from tools.plan_review.values import (
    UNKNOWN,
    WHITESPACE_CHANGES,
    AttributeChange,
    attribute_changes,
    display,
    format_path,
)

COMMENT_MARKER = "<!-- plan-review -->"
MAX_ATTRIBUTES_PER_RESOURCE = 25

_SYMBOLS = {
    Kind.ADD: "`+` add",
    Kind.CHANGE: "`~` change",
    Kind.REPLACE: "`-/+` replace",
    Kind.DESTROY: "`-` destroy",
    Kind.FORGET: "`.` forget",
}
CREATE_BEFORE_DESTROY_SYMBOL = "`+/-` replace"


def truncation_notice(limit: int) -> str:
    whose = " (GitHub's comment limit)" if limit == GITHUB_COMMENT_LIMIT else " (`--max-chars`)"
    return (
        "> [!WARNING]\n"
        f"> This review was truncated to stay under its {limit:,}-character limit{whose}: {{omitted}} left out. "
        "The full plans are attached to the workflow run as artifacts.\n\n"
    )


def _title(review: Review) -> str:
    versions = sorted({p.terraform_version for p in review.plans if p.terraform_version})
    made_by = f"Terraform {', '.join(versions)}" if versions else ""
    if review.all_refresh_only:
        what = "drift review"
        made_by = "refresh-only plans" + (f", {made_by}" if made_by else "")
    else:
        what = "plan review"
    return f"{COMMENT_MARKER}\n## Terraform {what}{f' ({made_by})' if made_by else ''}\n\n"


def _deposed(change: ResourceChange) -> str:
    return f" (deposed object {code(change.deposed)})" if change.deposed else ""


def _destructive_item(item: DestructiveChange) -> str:
    change = item.change
    verb = "**replace**" if item.kind is Kind.REPLACE else "**destroy**"
    parts = [f"> - {verb} {code(change.address)}{_deposed(change)} in {code(item.stack)}"]
    if item.stateful:
        parts.append(f"— 🛑 **stateful**: {escape(item.stateful)}")
    if change.change.replace_paths:
        forced = ", ".join(code(format_path(path)) for path in change.change.replace_paths)
        parts.append(f"— forced by {forced}")
    reason = describe_reason(change.action_reason)
    if reason:
        parts.append(f"— reason: {escape(reason)}")
    return " ".join(parts) + "\n"


def _warning(summaries: list[StackSummary]) -> Section:
    destructive = [item for summary in summaries for item in summary.destructive]
    if not destructive:
        return Section(head="> [!NOTE]\n> Nothing is destroyed or replaced.\n\n", priority=PRIORITY_WARNING)
    stateful = sum(1 for item in destructive if item.stateful)
    alert = "CAUTION" if stateful else "WARNING"
    lost = f", **{stateful} stateful** (data may be lost)" if stateful else ""
    head = f"> [!{alert}]\n> **{plural(len(destructive), 'resource')} would be destroyed or replaced**{lost}:\n>\n"
    ordered = sorted(
        destructive,
        key=lambda item: (item.stateful is None, item.stack, item.change.address, item.change.deposed or ""),
    )
    return Section(
        head=head,
        items=[_destructive_item(item) for item in ordered],
        tail="\n",
        priority=PRIORITY_WARNING,
        more="> - … {count} more omitted (comment size limit)\n",
    )


def _drift_warning(review: Review) -> Section:
    drifted = [item for stack in review.stacks for item in stack.drift]
    if not drifted:
        return Section(
            head="> [!NOTE]\n> No drift: every object matches the state Terraform recorded.\n\n",
            priority=PRIORITY_WARNING,
        )
    deleted = sum(1 for item in drifted if item.deleted)
    gone = f", {deleted} of them deleted" if deleted else ""
    return Section(
        head=f"> [!WARNING]\n> **{plural(len(drifted), 'object')} changed outside Terraform**{gone}. "
        "Applying these refresh-only plans changes no infrastructure: it records in the state what "
        "AWS holds now.\n\n",
        priority=PRIORITY_WARNING,
    )


def _summary_table(review: Review) -> Section:
    if review.all_refresh_only:
        header = "| Stack | Drifted | Deleted outside Terraform |\n|---|---:|---:|\n"
        rows = [
            f"| {cell(code(s.stack))} | {len(s.drift)} | {sum(1 for d in s.drift if d.deleted)} |\n"
            for s in review.stacks
        ]
        return Section(head=header + "".join(rows) + "\n", priority=PRIORITY_FRAME, required=True)
    header = "| Stack | " + " | ".join(column.capitalize() for column in COUNTED_COLUMNS) + " |\n"
    header += "|---|" + "---:|" * len(COUNTED_COLUMNS) + "\n"
    rows = []
    for stack in review.stacks:
        counts = []
        for column in COUNTED_COLUMNS:
            value = stack.summary.counts[column]
            bold = value and column in ("replace", "destroy")
            counts.append(f"**{value}**" if bold else str(value))
        mode = " (refresh-only)" if stack.plan.refresh_only else ""
        rows.append(f"| {cell(code(stack.stack))}{mode} | " + " | ".join(counts) + " |\n")
    if len(review.stacks) > 1:
        totals = [str(sum(s.summary.counts[column] for s in review.stacks)) for column in COUNTED_COLUMNS]
        rows.append("| **total** | " + " | ".join(totals) + " |\n")
    return Section(head=header + "".join(rows) + "\n", priority=PRIORITY_FRAME, required=True)


def _attribute_line(attribute: AttributeChange, forced: set[str], indent: str = "  ") -> str:
    mark = " (forces replacement)" if attribute.path in forced else ""
    if attribute.note == WHITESPACE_CHANGES:
        return f"{indent}- {code(attribute.path)}: jsonencode(…) # whitespace changes{mark}\n"
    note = f" ({attribute.note})" if attribute.note else ""
    return f"{indent}- {code(attribute.path)}: {code(attribute.before)} → {code(attribute.after)}{note}{mark}\n"


def _attribute_lines(change: ResourceChange, policy_attributes: set[str]) -> list[str]:
    """Attributes whose new value is known, then a count of the computed ones (`known after apply`): those
    follow from the change and would drown the ones a person actually edited. Policy attributes point to the
    IAM section, which shows them statement by statement."""
    c = change.change
    changes = attribute_changes(
        c.before,
        c.after,
        after_unknown=c.after_unknown,
        before_sensitive=c.before_sensitive,
        after_sensitive=c.after_sensitive,
    )
    forced = {format_path(path) for path in c.replace_paths}
    shown, computed, policies = [], 0, []
    for attribute in changes:
        if attribute.top in policy_attributes:
            if attribute.top not in policies:
                policies.append(attribute.top)
        elif attribute.after != UNKNOWN or attribute.path in forced:
            shown.append(attribute)
        else:
            computed += 1
    lines = [f"  - {code(name)}: statement by statement under IAM changes\n" for name in policies]
    lines += [_attribute_line(attribute, forced) for attribute in shown[:MAX_ATTRIBUTES_PER_RESOURCE]]
    if len(shown) > MAX_ATTRIBUTES_PER_RESOURCE:
        lines.append(f"  - … {len(shown) - MAX_ATTRIBUTES_PER_RESOURCE} more attributes\n")
    if computed:
        lines.append(f"  - {plural(computed, 'computed attribute')} known after apply\n")
    return lines


def _change_item(change: ResourceChange, policy_attributes: set[str]) -> str | None:
    kind = kind_of(change.change.actions)
    moved = bool(change.previous_address and change.previous_address != change.address)
    importing = change.change.importing
    quiet = kind in (Kind.NO_OP, Kind.READ)
    if quiet and not moved and not importing:
        return None
    if quiet:
        symbol = "`←` import" if importing else "`→` move"
    elif kind is Kind.REPLACE and change.change.actions[0] == "create":
        symbol = CREATE_BEFORE_DESTROY_SYMBOL
    else:
        symbol = _SYMBOLS[kind]
    words = [symbol, code(change.address) + _deposed(change)]
    if change.deposed:
        words.append("— a leftover of an earlier replacement, not the current object")
    if moved:
        words.append(f"— moved from {code(change.previous_address or '')}")
    if importing:
        words.append(
            f"— imported from id {code(change.change.importing_id)}" if change.change.importing_id else "— imported"
        )
    if kind is Kind.FORGET:
        words.append("— removed from state, the object stays in AWS")
    elif not quiet and change.action_reason:
        words.append(f"— {escape(describe_reason(change.action_reason) or '')}")
    line = "- " + " ".join(words) + "\n"
    if kind in (Kind.CHANGE, Kind.REPLACE):
        line += "".join(_attribute_lines(change, policy_attributes))
    return line


def _policy_attributes(stack: StackReview) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for change in stack.iam:
        found.setdefault(change.address, set()).add(change.attribute.split("[", 1)[0])
    return found


def _changes_section(stack: StackReview) -> Section:
    plan, summary = stack.plan, stack.summary
    heading = f"### {escape(plan.stack)}{' (refresh-only plan)' if plan.refresh_only else ''}\n\n"
    if plan.errored:
        heading += "> [!WARNING]\n> Terraform reported errors while planning this stack: the plan is partial.\n\n"
    if plan.refresh_only:
        return Section(head=heading, priority=PRIORITY_CHANGES)
    policies = _policy_attributes(stack)
    items = [line for line in (_change_item(c, policies.get(c.address, set())) for c in plan.resource_changes) if line]
    if not items:
        return Section(head=heading + "No changes.\n\n", priority=PRIORITY_CHANGES)
    noun = plural(len(items), "resource change")
    head = (
        heading + f"<details><summary>{noun}"
        f"{' (destroys or replaces something)' if summary.destructive else ''}</summary>\n\n"
    )
    return Section(head=head, items=items, tail="\n</details>\n\n", priority=PRIORITY_CHANGES)


def _output_row(output: OutputChange) -> str | None:
    kind = kind_of(output.change.actions)
    if kind in (Kind.NO_OP, Kind.READ):
        return None
    c = output.change
    before = display(c.before, c.before_sensitive, present=kind is not Kind.ADD)
    after = display(c.after, c.after_sensitive, unknown=c.after_unknown, present=kind is not Kind.DESTROY)
    return f"| {cell(code(output.name))} | {kind.value} | {cell(code(before))} | {cell(code(after))} |\n"


def _outputs_section(stack: StackReview) -> Section | None:
    rows = [row for row in map(_output_row, stack.plan.output_changes) if row]
    if not rows:
        return None
    head = f"Output changes in {code(stack.stack)}:\n\n| Output | Action | Before | After |\n|---|---|---|---|\n"
    return Section(
        head=head,
        items=rows,
        tail="\n",
        priority=PRIORITY_OUTPUTS,
        more="| … | {count} more omitted (comment size limit) | | |\n",
    )


def _policy_drift_lines(item: DriftItem, attribute: str, indent: str) -> list[str] | None:
    """A drifted policy as statement differences (as IAM changes show them), or None when it cannot be read so."""
    kind = policy_kind(item.change.type, attribute)
    c = item.change.change
    if kind is None or not isinstance(c.before, dict) or not isinstance(c.after, dict):
        return None
    try:
        diffs, widening = statement_changes(c.before.get(attribute), c.after.get(attribute), kind)
    except PolicyUnreadable:
        return None
    by_statement: dict[str, list[str]] = {}
    for found in widening:
        by_statement.setdefault(found.statement, []).append(found.detail)
    header = f"{indent}- {code(attribute)}: " + (
        "the same statements, spelled differently\n" if not diffs else "statement by statement:\n"
    )
    return [header] + [statement_line(d, by_statement.get(d.label, []), indent + "  ") for d in diffs]


def _drift_item(item: DriftItem, indent: str = "") -> str:
    address = code(item.change.address) + _deposed(item.change)
    if item.deleted:
        return f"{indent}- {address}: deleted outside Terraform\n"
    moved = f" (moved from {code(item.change.previous_address or '')})" if item.moved else ""
    lines = [f"{indent}- {address}{moved}\n"]
    shown: list[AttributeChange] = []
    policies: dict[str, list[str]] = {}
    for attribute in item.attributes:
        if attribute.top not in policies:
            policy_lines = _policy_drift_lines(item, attribute.top, indent + "  ")
            if policy_lines is None:
                shown.append(attribute)
                continue
            policies[attribute.top] = policy_lines
            lines += policy_lines
    lines += [_attribute_line(a, set(), indent + "  ") for a in shown[:MAX_ATTRIBUTES_PER_RESOURCE]]
    if len(shown) > MAX_ATTRIBUTES_PER_RESOURCE:
        lines.append(f"{indent}  - … {len(shown) - MAX_ATTRIBUTES_PER_RESOURCE} more attributes\n")
    return "".join(lines)


def _drift_section(stack: StackReview) -> Section | None:
    if stack.plan.refresh_only:
        return _state_writes_section(stack)
    if not stack.drift:
        return None
    head = (
        f"<details><summary>Drift in {escape(stack.stack)}: {plural(len(stack.drift), 'object')} changed outside "
        "Terraform that this plan's changes depend on (what Terraform itself reports)</summary>\n\n"
    )
    return Section(
        head=head, items=[_drift_item(item) for item in stack.drift], tail="\n</details>\n\n", priority=PRIORITY_DETAIL
    )


def _state_writes_section(stack: StackReview) -> Section:
    """What applying a refresh-only plan writes to state: updates, and removals of objects deleted in AWS."""
    if not stack.drift:
        return Section(
            head="No drift: the real objects match the state, so applying this plan writes nothing.\n\n",
            priority=PRIORITY_CHANGES,
        )
    removed = [item for item in stack.drift if item.deleted]
    moved = [item for item in stack.drift if item.moved and not item.deleted and not item.attributes]
    flips = [item for item in stack.drift if not item.deleted and item.only_empty_flips]
    updated = [item for item in stack.drift if not item.deleted and not item.only_empty_flips and item not in moved]
    head = "Applying this plan changes no infrastructure. It writes to state:\n\n"
    if removed:
        head += (
            f"- **{plural(len(removed), 'object')} removed from state** (deleted outside Terraform): "
            + ", ".join(code(item.change.address) + _deposed(item.change) for item in removed)
            + "\n"
        )
    if moved:
        head += (
            f"- {plural(len(moved), 'object')} moved in state: "
            + ", ".join(f"{code(item.change.previous_address or '')} → {code(item.change.address)}" for item in moved)
            + "\n"
        )
    if updated or flips:
        head += f"- {plural(len(updated) + len(flips), 'object')} updated to what AWS holds"
        head += (
            (
                f" ({len(flips)} of them only for null ↔ empty values, e.g. `tags`: null → {{}}: provider "
                "normalisation, which Terraform reports too: " + ", ".join(code(i.change.address) for i in flips) + ")"
            )
            if flips
            else ""
        )
        head += ":\n" if updated else "\n"
    return Section(head=head, items=[_drift_item(item, "  ") for item in updated], tail="\n", priority=PRIORITY_CHANGES)


def _gates_section(gates: list[Gate]) -> Section | None:
    """What each gate decided, so the comment says why the check failed (or which label let it pass)."""
    if not any(gate.tripped for gate in gates):
        return None
    blocked = any(gate.blocks for gate in gates)
    lines = []
    for gate in gates:
        if gate.blocks:
            lines.append(
                f"> - **{gate.name}: blocked** — {escape(gate.detail)}. If intended, add the label "
                f"{code(gate.label)} to the pull request.\n"
            )
        elif gate.waived and gate.tripped:
            lines.append(f"> - {gate.name}: accepted by the label {code(gate.label)} — {escape(gate.detail)}.\n")
    head = f"> [!{'CAUTION' if blocked else 'NOTE'}]\n> **Gates**\n>\n"
    return Section(head=head + "".join(lines) + "\n", priority=PRIORITY_FRAME, required=True)


def render_markdown(review: Review, gates: list[Gate] = (), *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The whole comment, at most LIMIT characters (GitHub's comment limit by default)."""
    sections = [Section(head=_title(review), priority=PRIORITY_FRAME, required=True)]
    if review.all_refresh_only:
        sections.append(_drift_warning(review))
    else:
        sections.append(_warning([s.summary for s in review.stacks]))
    sections.append(_summary_table(review))
    gate_section = _gates_section(list(gates))
    if gate_section is not None:
        sections.append(gate_section)
    sections += cost_sections(review)
    sections += iam_sections(review)
    for stack in review.stacks:
        sections.append(_changes_section(stack))
        sections.extend(s for s in (_outputs_section(stack), _drift_section(stack)) if s is not None)
    return fit(sections, limit=limit, notice=truncation_notice(limit), notice_index=1).text
