"""The pull-request comment: destruction warning, summary table, per-stack details, outputs and drift.

Why this layout: a reviewer's first question is "does this lose data?", so the warning comes first and names
every destroyed or replaced resource with what forces it; the table answers "how big is it?"; the rest is
detail, collapsed where it is long. The hidden marker on the first line lets the workflow find and update this
one comment instead of adding a new one on every push.
"""

from __future__ import annotations

import html
import re

from tools.plan_review.classify import (
    COUNTED_COLUMNS,
    DestructiveChange,
    Kind,
    StackSummary,
    describe_reason,
    kind_of,
    summarize,
)
from tools.plan_review.fit import GITHUB_COMMENT_LIMIT, Section, fit
from tools.plan_review.model import OutputChange, ResourceChange, StackPlan
from tools.plan_review.values import UNKNOWN, attribute_changes, display, format_path

COMMENT_MARKER = "<!-- plan-review -->"
MAX_ATTRIBUTES_PER_RESOURCE = 25
TRUNCATION_NOTICE = (
    "> [!WARNING]\n"
    f"> This review was truncated to stay under GitHub's {GITHUB_COMMENT_LIMIT:,}-character comment limit: "
    "{omitted} left out. The full plans are attached to the workflow run as artifacts.\n\n"
)

_SYMBOLS = {
    Kind.ADD: "`+` add",
    Kind.CHANGE: "`~` change",
    Kind.REPLACE: "`-/+` replace",
    Kind.DESTROY: "`-` destroy",
    Kind.FORGET: "`.` forget",
}
CREATE_BEFORE_DESTROY_SYMBOL = "`+/-` replace"

# Priorities for fitting under the size limit: lower numbers keep their place first.
_PRIORITY_FRAME, _PRIORITY_WARNING, _PRIORITY_CHANGES, _PRIORITY_OUTPUTS, _PRIORITY_DRIFT = 0, 1, 2, 3, 4


def code(text: str) -> str:
    """TEXT as an inline code span, whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(text: str) -> str:
    """TEXT safe inside a table cell: GitHub splits rows on every `|`, even inside code spans."""
    return text.replace("|", "\\|").replace("\n", " ")


def _title(plans: list[StackPlan]) -> str:
    versions = sorted({p.terraform_version for p in plans if p.terraform_version})
    made_by = f" (Terraform {', '.join(versions)})" if versions else ""
    return f"{COMMENT_MARKER}\n## Terraform plan review{made_by}\n\n"


def _destructive_item(item: DestructiveChange) -> str:
    change = item.change
    verb = "**replace**" if item.kind is Kind.REPLACE else "**destroy**"
    parts = [f"> - {verb} {code(change.address)} in {code(item.stack)}"]
    if change.deposed:
        parts.append(f"(deposed object {code(change.deposed)})")
    if item.stateful:
        parts.append(f"— 🛑 **stateful**: {html.escape(item.stateful, quote=False)}")
    if change.change.replace_paths:
        forced = ", ".join(code(format_path(path)) for path in change.change.replace_paths)
        parts.append(f"— forced by {forced}")
    reason = describe_reason(change.action_reason)
    if reason:
        parts.append(f"— reason: {html.escape(reason, quote=False)}")
    return " ".join(parts) + "\n"


def _warning(summaries: list[StackSummary]) -> Section:
    destructive = [item for summary in summaries for item in summary.destructive]
    if not destructive:
        return Section(head="> [!NOTE]\n> Nothing is destroyed or replaced.\n\n", priority=_PRIORITY_WARNING)
    stateful = sum(1 for item in destructive if item.stateful)
    alert = "CAUTION" if stateful else "WARNING"
    noun = "resource" if len(destructive) == 1 else "resources"
    lost = f", **{stateful} stateful** (data may be lost)" if stateful else ""
    head = f"> [!{alert}]\n> **{len(destructive)} {noun} would be destroyed or replaced**{lost}:\n>\n"
    ordered = sorted(destructive, key=lambda item: (item.stateful is None, item.stack, item.change.address))
    return Section(head=head, items=[_destructive_item(item) for item in ordered], tail="\n",
                   priority=_PRIORITY_WARNING, more="> - … {count} more omitted (comment size limit)\n")


def _summary_table(summaries: list[StackSummary]) -> Section:
    header = "| Stack | " + " | ".join(column.capitalize() for column in COUNTED_COLUMNS) + " |\n"
    header += "|---|" + "---:|" * len(COUNTED_COLUMNS) + "\n"
    rows = []
    for summary in summaries:
        counts = []
        for column in COUNTED_COLUMNS:
            value = summary.counts[column]
            bold = value and column in ("replace", "destroy")
            counts.append(f"**{value}**" if bold else str(value))
        rows.append(f"| {cell(code(summary.stack))} | " + " | ".join(counts) + " |\n")
    if len(summaries) > 1:
        totals = [str(sum(s.counts[column] for s in summaries)) for column in COUNTED_COLUMNS]
        rows.append("| **total** | " + " | ".join(totals) + " |\n")
    return Section(head=header + "".join(rows) + "\n", priority=_PRIORITY_FRAME)


def _attribute_lines(change: ResourceChange) -> list[str]:
    """Attributes whose new value is known, then a count of the computed ones (`known after apply`): those
    follow from the change and would drown the ones a person actually edited."""
    c = change.change
    changes = attribute_changes(c.before, c.after, after_unknown=c.after_unknown,
                                before_sensitive=c.before_sensitive, after_sensitive=c.after_sensitive)
    forced = {format_path(path) for path in c.replace_paths}
    shown = [a for a in changes if a.after != UNKNOWN or a.path in forced]
    computed = len(changes) - len(shown)
    lines = []
    for attribute in shown[:MAX_ATTRIBUTES_PER_RESOURCE]:
        mark = " (forces replacement)" if attribute.path in forced else ""
        lines.append(f"  - {code(attribute.path)}: {code(attribute.before)} → {code(attribute.after)}{mark}\n")
    if len(shown) > MAX_ATTRIBUTES_PER_RESOURCE:
        lines.append(f"  - … {len(shown) - MAX_ATTRIBUTES_PER_RESOURCE} more attributes\n")
    if computed:
        lines.append(f"  - {computed} computed attribute{'s' if computed != 1 else ''} known after apply\n")
    return lines


def _change_item(change: ResourceChange) -> str | None:
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
    words = [symbol, code(change.address)]
    if moved:
        words.append(f"— moved from {code(change.previous_address or '')}")
    if importing:
        words.append(f"— imported from id {code(change.change.importing_id)}" if change.change.importing_id
                     else "— imported")
    if kind is Kind.FORGET:
        words.append("— removed from state, the object stays in AWS")
    elif not quiet and change.action_reason:
        words.append(f"— {html.escape(describe_reason(change.action_reason) or '', quote=False)}")
    line = "- " + " ".join(words) + "\n"
    if kind in (Kind.CHANGE, Kind.REPLACE):
        line += "".join(_attribute_lines(change))
    return line


def _changes_section(plan: StackPlan, summary: StackSummary) -> Section:
    heading = f"### {html.escape(plan.stack)}\n\n"
    if plan.errored:
        heading += "> [!WARNING]\n> Terraform reported errors while planning this stack: the plan is partial.\n\n"
    items = [line for line in map(_change_item, plan.resource_changes) if line]
    if not items:
        return Section(head=heading + "No changes.\n\n", priority=_PRIORITY_CHANGES)
    total = len(items)
    head = (heading + f"<details><summary>{total} resource change{'s' if total != 1 else ''}"
            f"{' (destroys or replaces something)' if summary.destructive else ''}</summary>\n\n")
    return Section(head=head, items=items, tail="\n</details>\n\n", priority=_PRIORITY_CHANGES)


def _output_row(output: OutputChange) -> str | None:
    kind = kind_of(output.change.actions)
    if kind in (Kind.NO_OP, Kind.READ):
        return None
    c = output.change
    before = display(c.before, c.before_sensitive, present=kind is not Kind.ADD)
    after = display(c.after, c.after_sensitive, unknown=c.after_unknown, present=kind is not Kind.DESTROY)
    return f"| {cell(code(output.name))} | {kind.value} | {cell(code(before))} | {cell(code(after))} |\n"


def _outputs_section(plan: StackPlan) -> Section | None:
    rows = [row for row in map(_output_row, plan.output_changes) if row]
    if not rows:
        return None
    head = f"Output changes in {code(plan.stack)}:\n\n| Output | Action | Before | After |\n|---|---|---|---|\n"
    return Section(head=head, items=rows, tail="\n", priority=_PRIORITY_OUTPUTS,
                   more="| … | {count} more omitted (comment size limit) | | |\n")


def _drift_item(drift: ResourceChange) -> str | None:
    c = drift.change
    if kind_of(c.actions) is Kind.DESTROY:
        return f"- {code(drift.address)}: deleted outside Terraform\n"
    changes = attribute_changes(c.before, c.after, before_sensitive=c.before_sensitive,
                                after_sensitive=c.after_sensitive)
    if not changes:
        return None
    lines = [f"- {code(drift.address)}\n"]
    lines += [f"  - {code(a.path)}: {code(a.before)} → {code(a.after)}\n"
              for a in changes[:MAX_ATTRIBUTES_PER_RESOURCE]]
    return "".join(lines)


def _drift_section(plan: StackPlan) -> Section | None:
    items = [item for item in map(_drift_item, plan.resource_drift) if item]
    if not items:
        return None
    noun = "resource" if len(items) == 1 else "resources"
    head = (f"<details><summary>Drift in {html.escape(plan.stack)}: {len(items)} {noun} changed outside "
            "Terraform since the last apply</summary>\n\n")
    return Section(head=head, items=items, tail="\n</details>\n\n", priority=_PRIORITY_DRIFT)


def render_markdown(plans: list[StackPlan], *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The whole comment for PLANS, at most LIMIT characters (GitHub's comment limit by default)."""
    summaries = [summarize(plan) for plan in plans]
    sections = [Section(head=_title(plans), priority=_PRIORITY_FRAME), _warning(summaries),
                _summary_table(summaries)]
    for plan, summary in zip(plans, summaries, strict=True):
        sections.append(_changes_section(plan, summary))
        sections.extend(s for s in (_outputs_section(plan), _drift_section(plan)) if s is not None)
    return fit(sections, limit=limit, notice=TRUNCATION_NOTICE, notice_index=1).text
