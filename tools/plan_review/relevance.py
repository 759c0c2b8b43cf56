"""Which drift Terraform itself reports, so the review never shows more (or less) than `terraform plan` does.

The JSON plan's `resource_drift` lists every object whose refreshed value differs from state, including
attributes no change depends on (a topic's `policy` rewritten by the configuration's own `aws_sns_topic_policy`,
`tags` read back as `{}` instead of null). Terraform's renderer filters it (internal/command/jsonformat,
`precomputeDiffs` and `renderHumanDiffDrift`, Terraform 1.11):
- in a refresh-only plan, every drifted object is shown, every attribute;
- in a normal plan, an object is shown only for the attributes listed in `relevant_attributes` (those that
  contributed to a planned change), only when one of those differs, and only when the plan changes something:
  a plan with no changes says "No changes" and shows no drift at all.
Values compare as Terraform compares them: exactly, so `null` and `{}` differ, and a sensitivity flip counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.plan_review.classify import Kind, kind_of
from tools.plan_review.model import AttributePath, ResourceChange, StackPlan
from tools.plan_review.values import AttributeChange, attribute_changes, format_path, value_at


@dataclass(frozen=True)
class DriftItem:
    """A drifted object as Terraform reports it, with the attribute differences to show."""

    change: ResourceChange
    attributes: tuple[AttributeChange, ...]

    @property
    def deleted(self) -> bool:
        return kind_of(self.change.change.actions) is Kind.DESTROY

    @property
    def moved(self) -> bool:
        return bool(self.change.previous_address and self.change.previous_address != self.change.address)

    @property
    def only_empty_flips(self) -> bool:
        """Every difference is between null and an empty value (`tags`: null → {}): provider normalisation,
        which Terraform reports all the same."""
        empties = {"null", "{}", "[]", '""'}
        return bool(self.attributes) and all(a.before in empties and a.after in empties for a in self.attributes)


def _moved(change: ResourceChange) -> bool:
    return bool(change.previous_address and change.previous_address != change.address)


def plan_changes_nothing(plan: StackPlan) -> bool:
    """Terraform's "No changes" test: no resource change other than no-op or forget (which it renders as
    no-op) and no move, and no output change."""
    for change in plan.resource_changes:
        if kind_of(change.change.actions) not in (Kind.NO_OP, Kind.FORGET) or _moved(change):
            return False
    return all(kind_of(output.change.actions) is Kind.NO_OP for output in plan.output_changes)


def _relevant_paths(plan: StackPlan) -> dict[str, list[AttributePath]]:
    """address -> attribute paths (an empty address in `relevant_attributes` applies to every resource)."""
    paths: dict[str, list[AttributePath]] = {}
    for address, path in plan.relevant_attributes:
        paths.setdefault(address, []).append(path)
    return paths


def _differences(change: ResourceChange, paths: list[AttributePath] | None) -> tuple[AttributeChange, ...]:
    """The attribute differences of a drift entry, within PATHS (every attribute when None)."""
    c = change.change
    if paths is None:
        return tuple(
            attribute_changes(
                c.before,
                c.after,
                before_sensitive=c.before_sensitive,
                after_sensitive=c.after_sensitive,
                empty_is_null=False,
            )
        )
    found: list[AttributeChange] = []
    for path in paths:
        before, after = value_at(c.before, path), value_at(c.after, path)
        before_mask, after_mask = value_at(c.before_sensitive, path), value_at(c.after_sensitive, path)
        if before == after and bool(before_mask) == bool(after_mask):
            continue
        prefix = format_path(path) if path else ""
        for item in attribute_changes(
            before, after, before_sensitive=before_mask, after_sensitive=after_mask, empty_is_null=False
        ):
            tail = "" if item.path == "(whole object)" else item.path
            joined = f"{prefix}{'' if not tail or tail.startswith('[') else '.'}{tail}" if prefix else tail
            found.append(AttributeChange(joined or "(whole object)", item.before, item.after, item.note))
    return tuple(found)


def reported_drift(plan: StackPlan) -> list[DriftItem]:
    """The drifted objects Terraform reports for PLAN, in its order, each with the differences to show."""
    if plan.refresh_only:
        return [
            DriftItem(change, _differences(change, None))
            for change in plan.resource_drift
            if kind_of(change.change.actions) is not Kind.NO_OP or _moved(change)
        ]
    if not plan.resource_drift or plan_changes_nothing(plan):
        return []
    relevant = _relevant_paths(plan)
    everywhere = relevant.get("", [])
    items = []
    for change in plan.resource_drift:
        paths = relevant.get(change.address, []) + everywhere
        if not paths:
            continue
        if kind_of(change.change.actions) is Kind.DESTROY:
            items.append(DriftItem(change, ()))
            continue
        differences = _differences(change, paths)
        if differences:
            items.append(DriftItem(change, differences))
    return items
