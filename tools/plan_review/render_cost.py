"""The cost part of the comment: fixed monthly cost per stack (before, after, difference, total), how each
resource was priced, what is not priced, and the traffic-driven unit prices with the assumptions."""

from __future__ import annotations

from decimal import Decimal

from tools.plan_review.cost import (
    Charge,
    Estimate,
    Free,
    ResourceCost,
    Unpriced,
    assumptions,
    money,
    percent_change,
    unit_price,
)
from tools.plan_review.fit import Section
from tools.plan_review.markdown import PRIORITY_DETAIL, PRIORITY_SUMMARY, PRIORITY_WARNING, cell, code, escape, plural
from tools.plan_review.review import Review

PRICE_TABLE_PATH = "tools/plan_review/prices.toml"


def _difference(before: Decimal, after: Decimal, *, bold: bool = True) -> str:
    difference = after - before
    text = money(difference, sign=True)
    change = percent_change(before, after)
    if change:
        text += f" ({change})"
    return f"**{text}**" if bold and difference > 0 else text


def _charge_text(charge: Charge, hours: Decimal) -> str:
    per = f"{unit_price(charge.price)} per {charge.price.unit}"
    if charge.factor == hours:
        span = f" × {hours} h"
    elif charge.factor == 1:
        span = ""
    else:
        span = f" × {charge.factor:,} s"
    discount = ""
    if charge.multiplier != 1:
        discount = f" × {charge.multiplier.normalize():f}" + (f" ({charge.note})" if charge.note else "")
    return f"{charge.what} × {per}{span}{discount}"


def _basis(outcome: Estimate | Free | Unpriced | None, hours: Decimal) -> str:
    if not isinstance(outcome, Estimate):
        return ""
    parts = [_charge_text(charge, hours) for charge in outcome.charges]
    parts += list(outcome.notes)
    if outcome.ceiling is not None:
        parts.append(f"up to {money(outcome.ceiling)} at its maximum")
    return "; ".join(parts) or "no fixed charge"


def _side(outcome: Estimate | Free | Unpriced | None) -> str:
    if outcome is None:
        return "—"
    if isinstance(outcome, Estimate):
        return ("≈" if outcome.uncertain else "") + money(outcome.monthly)
    return "$0.00" if isinstance(outcome, Free) else "not priced"


def _resource_row(stack: str, resource: ResourceCost, hours: Decimal) -> str:
    address = code(resource.address) + (f" (deposed {code(resource.deposed)})" if resource.deposed else "")
    before, after = _basis(resource.before, hours), _basis(resource.after, hours)
    if before and after and before != after:
        basis = f"before: {before}. After: {after}"
    else:
        basis = after or before
    basis += f"; {resource.note}" if resource.note else ""
    return (
        f"| {cell(code(stack))} | {cell(address)} | {_side(resource.before)} | {_side(resource.after)} | "
        f"{cell(escape(basis))} |\n"
    )


def cost_sections(review: Review) -> list[Section]:
    """The cost table (kept with the warning), then its details (dropped first when space runs out)."""
    costed = [s for s in review.stacks if s.cost is not None]
    if not costed:
        return []
    table = review.table
    rows = []
    for stack in costed:
        cost = stack.cost
        assert cost is not None
        approx = "≈" if cost.uncertain else ""
        rows.append(
            f"| {cell(code(stack.stack))} | {approx}{money(cost.before)} | {approx}{money(cost.after)} | "
            f"{_difference(cost.before, cost.after)} |\n"
        )
    if len(costed) > 1:
        rows.append(
            f"| **total** | {money(review.cost_before)} | {money(review.cost_after)} | "
            f"{_difference(review.cost_before, review.cost_after)} |\n"
        )
    regions = sorted({region for s in costed for region in (s.cost.regions if s.cost else ())})
    not_priced = [(s.stack, r) for s in costed for r in (s.cost.not_priced if s.cost else [])]
    head = (
        f"### Cost: fixed monthly ({table.currency})\n\n| Stack | Before | After | Difference |\n|---|---:|---:|---:|\n"
    )
    tail = (
        f"\nPrices of {table.as_of.isoformat()} from [{PRICE_TABLE_PATH}]({PRICE_TABLE_PATH})"
        f"{' for ' + ', '.join(regions) if regions else ''}; ≈ marks prices the table flags as uncertain. "
        "Only what runs regardless of traffic is counted; traffic-driven prices are listed below."
        + (f" **{plural(len(not_priced), 'resource')} not priced**, so not in either total." if not_priced else "")
        + "\n\n"
    )
    sections = [Section(head=head + "".join(rows) + tail, priority=PRIORITY_WARNING)]
    if not_priced:
        sections.append(
            Section(
                head="Not priced (no price in the table, or a value known only after apply):\n\n",
                items=[
                    f"- {code(stack)}: {code(r.address)} — {escape(r.unpriced_reason or '')}\n"
                    for stack, r in not_priced
                ],
                tail="\n",
                priority=PRIORITY_SUMMARY,
            )
        )
    priced = [(s.stack, r) for s in costed for r in (s.cost.priced if s.cost else [])]
    if priced:
        changed = sorted(
            priced, key=lambda pair: (pair[1].monthly("after") == pair[1].monthly("before"), pair[0], pair[1].address)
        )
        sections.append(
            Section(
                head=f"<details><summary>How each price was counted ({plural(len(priced), 'priced resource')})</summary>"
                "\n\n| Stack | Resource | Before | After | Basis |\n|---|---|---:|---:|---|\n",
                items=[_resource_row(stack, r, table.hours_per_month) for stack, r in changed],
                tail="\n</details>\n\n",
                priority=PRIORITY_DETAIL,
                more="| … | {count} more omitted (comment size limit) | | | |\n",
            )
        )
    sections.append(_usage_section(review, regions))
    return sections


def _usage_section(review: Review, regions: list[str]) -> Section:
    rows = [
        f"| {escape(u.price.label)} | {unit_price(u.price)} per {escape(u.price.unit)} | {u.price.region} | "
        f"{', '.join(code(t) for t in u.resource_types)} | [source]({u.price.source}) |\n"
        for u in review.usage
    ]
    notes = "".join(f"- {escape(text)}\n" for text in assumptions(review.table, regions[0] if regions else None))
    head = (
        "<details><summary>Traffic-driven prices (unit prices only, never in the totals) and the assumptions"
        "</summary>\n\n"
    )
    table_head = "| Item | Unit price | Region | Incurred by | Source |\n|---|---:|---|---|---|\n" if rows else ""
    return Section(
        head=head + "Assumptions:\n\n" + notes + "\n" + table_head,
        items=rows,
        tail="\n</details>\n\n",
        priority=PRIORITY_DETAIL,
        more="| … | {count} more omitted (comment size limit) | | | |\n",
    )
