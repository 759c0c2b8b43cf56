"""IAM changes a person can read: statement-level differences of every changed policy, widening highlighted.

Why: a plan shows a policy as one JSON string, before and after; a reviewer has to diff two minified documents
in their head to see that `s3:GetObject` became `s3:*`. This module parses both sides of each policy-bearing
attribute (identity, trust, bucket, queue, topic, key, repository, secret, endpoint and log policies), pairs
their statements (by Sid, then identical, then most alike), and reports per statement what was added, removed
or changed. Changes that widen access are flagged: a new wildcard action or resource, a new principal (`*`:
anyone), a condition dropped or loosened, a `Deny` removed or narrowed, `NotAction`/`NotResource` added to an
`Allow`. Policy text is compared as IAM reads it: actions case-insensitively, `"Principal": "*"` equal to
`{"AWS": "*"}`, an account id equal to its root ARN, single values equal to one-element lists.
Values Terraform masks stay masked: a sensitive policy is reported as `(sensitive value)`, never guessed; an
unknown one as known after apply, with what it depends on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tools.plan_review.classify import Kind, kind_of
from tools.plan_review.model import ResourceChange, StackPlan

# resource type -> (attribute, kind of policy); `inline_policy` of a role is handled apart (a list of them).
POLICY_ATTRIBUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "aws_iam_role": (("assume_role_policy", "trust"),),
    "aws_iam_role_policy": (("policy", "identity"),),
    "aws_iam_policy": (("policy", "identity"),),
    "aws_iam_user_policy": (("policy", "identity"),),
    "aws_iam_group_policy": (("policy", "identity"),),
    "aws_s3_bucket_policy": (("policy", "bucket"),),
    "aws_s3_bucket": (("policy", "bucket"),),
    "aws_sqs_queue_policy": (("policy", "queue"),),
    "aws_sqs_queue": (("policy", "queue"),),
    "aws_sns_topic_policy": (("policy", "topic"),),
    "aws_sns_topic": (("policy", "topic"),),
    "aws_kms_key": (("policy", "key"),),
    "aws_kms_key_policy": (("policy", "key"),),
    "aws_ecr_repository_policy": (("policy", "repository"),),
    "aws_secretsmanager_secret_policy": (("policy", "secret"),),
    "aws_vpc_endpoint": (("policy", "endpoint"),),
    "aws_vpc_endpoint_policy": (("policy", "endpoint"),),
    "aws_cloudwatch_log_resource_policy": (("policy_document", "log"),),
}
# Attributes that a separate resource may own (aws_sns_topic_policy sets a topic's `policy`) or that AWS fills in
# (a KMS key's default policy): reported only when the configuration sets them, so the computed copy is not shown
# as a second, unexplained change (and a destroyed key's default policy not as an IAM change of its own).
OPTIONAL_COMPUTED = {
    ("aws_s3_bucket", "policy"),
    ("aws_sqs_queue", "policy"),
    ("aws_sns_topic", "policy"),
    ("aws_kms_key", "policy"),
    ("aws_vpc_endpoint", "policy"),
}
ATTACHMENT_TYPES = {
    "aws_iam_role_policy_attachment": "role",
    "aws_iam_user_policy_attachment": "user",
    "aws_iam_group_policy_attachment": "group",
}
RESOURCE_POLICY_KINDS = {"trust", "bucket", "queue", "topic", "key", "repository", "secret", "endpoint", "log"}

_ACCOUNT_ID = re.compile(r"^\d{12}$")


class PolicyUnreadable(ValueError):
    """The attribute holds text that is not a policy document."""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Statement:
    """One policy statement, normalised for comparison; DISPLAY maps each normalised value to its spelling."""

    sid: str | None
    effect: str
    actions: frozenset[str]
    not_actions: frozenset[str]
    resources: frozenset[str]
    not_resources: frozenset[str]
    principals: frozenset[str]
    not_principals: frozenset[str]
    conditions: frozenset[tuple[str, str, tuple[str, ...]]]
    display: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def label(self, index: int) -> str:
        return f"`{self.sid}`" if self.sid else f"#{index + 1}"

    def shown(self, values: Iterable[str]) -> list[str]:
        return sorted(self.display.get(value, value) for value in values)


def _principals(value: Any, display: dict[str, str]) -> frozenset[str]:
    found = set()
    if value == "*":
        value = {"AWS": "*"}
    if not isinstance(value, dict):
        raise PolicyUnreadable('Principal is neither "*" nor an object')
    for kind, ids in value.items():
        for raw in _as_list(ids):
            text = _text(raw)
            if kind == "AWS" and _ACCOUNT_ID.match(text):
                text = f"arn:aws:iam::{text}:root"
            key = "*" if (kind == "AWS" and text == "*") else f"{kind}:{text}"
            display.setdefault(key, "* (anyone)" if key == "*" else key)
            found.add(key)
    return frozenset(found)


def _conditions(value: Any, display: dict[str, str]) -> frozenset[tuple[str, str, tuple[str, ...]]]:
    """(operator, key, values) triples; keys compare case-insensitively (as IAM reads them) and keep their
    spelling for display."""
    if value is None:
        return frozenset()
    if not isinstance(value, dict):
        raise PolicyUnreadable("Condition is not an object")
    found = set()
    for operator, entries in value.items():
        if not isinstance(entries, dict):
            raise PolicyUnreadable(f"Condition {operator} is not an object")
        for key, values in entries.items():
            display.setdefault(f"condition:{key.lower()}", key)
            found.add((operator, key.lower(), tuple(sorted(_text(v) for v in _as_list(values)))))
    return frozenset(found)


def _statement(raw: Any) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyUnreadable("a statement is not an object")
    display: dict[str, str] = {}

    def lowered(values: Any) -> frozenset[str]:
        keys = set()
        for value in _as_list(values):
            text = _text(value)
            display.setdefault(text.lower(), text)
            keys.add(text.lower())
        return frozenset(keys)

    def plain(values: Any) -> frozenset[str]:
        return frozenset(_text(value) for value in _as_list(values))

    return Statement(
        sid=str(raw["Sid"]) if raw.get("Sid") else None,
        effect=str(raw.get("Effect", "Allow")),
        actions=lowered(raw.get("Action")),
        not_actions=lowered(raw.get("NotAction")),
        resources=plain(raw.get("Resource")),
        not_resources=plain(raw.get("NotResource")),
        principals=_principals(raw["Principal"], display) if "Principal" in raw else frozenset(),
        not_principals=_principals(raw["NotPrincipal"], display) if "NotPrincipal" in raw else frozenset(),
        conditions=_conditions(raw.get("Condition"), display),
        display=display,
    )


def parse_policy(value: Any) -> tuple[Statement, ...]:
    """The statements of a policy given as JSON text (or an already decoded object); () for no policy."""
    if value is None or value == "":
        return ()
    document = value
    if isinstance(value, str):
        try:
            document = json.loads(value)
        except ValueError:
            raise PolicyUnreadable("not JSON") from None
    if not isinstance(document, dict):
        raise PolicyUnreadable("not a JSON object")
    return tuple(_statement(raw) for raw in _as_list(document.get("Statement")))


@dataclass(frozen=True)
class Widening:
    """One way a change widens access, for the highlight list and the JSON."""

    kind: str  # wildcard_action, wildcard_resource, new_principal, public_principal, condition_dropped, ...
    statement: str
    detail: str


@dataclass(frozen=True)
class StatementDiff:
    """How one statement changed. STATUS is added, removed or changed; the sets hold display spellings."""

    status: str
    label: str
    effect: str
    effect_before: str | None = None
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    conditions_added: list[str] = field(default_factory=list)
    conditions_removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PolicyChange:
    """A changed policy attribute of one resource, as statement differences (or why they cannot be shown)."""

    stack: str
    address: str
    resource_type: str
    attribute: str
    kind: str
    action: str  # create, update, delete (of the policy: a new resource's policy is a create)
    statements: tuple[StatementDiff, ...] = ()
    widening: tuple[Widening, ...] = ()
    unavailable: str | None = None  # "(sensitive value)", "known after apply ...", "unreadable: ..."
    deposed: str | None = None


_FIELDS = (
    ("actions", "actions"),
    ("not_actions", "NotAction"),
    ("resources", "resources"),
    ("not_resources", "NotResource"),
    ("principals", "principals"),
    ("not_principals", "NotPrincipal"),
)


def _condition_text(condition: tuple[str, str, tuple[str, ...]], statement: Statement) -> str:
    operator, key, values = condition
    return f"{operator} {statement.display.get(f'condition:{key}', key)} = {', '.join(values)}"


def _breadth(value: str) -> str:
    """Words for how much a wildcard covers, when it covers everything of its kind."""
    if value == "*":
        return " (everything)"
    if value.endswith(":*") and value.count(":") == 1:
        return f" (every {value.split(':')[0]} action)"
    return ""


def _similarity(a: Statement, b: Statement) -> int:
    if a.effect != b.effect:
        return 0
    return (
        len(a.actions & b.actions)
        + len(a.resources & b.resources)
        + len(a.principals & b.principals)
        + len(a.not_actions & b.not_actions)
        + len(a.not_resources & b.not_resources)
    )


def pair_statements(
    before: tuple[Statement, ...], after: tuple[Statement, ...]
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """(pairs of before/after indexes, unpaired before indexes, unpaired after indexes): by Sid, then identical,
    then the most alike statements with the same effect."""
    free_before, free_after = list(range(len(before))), list(range(len(after)))
    pairs: list[tuple[int, int]] = []

    def take(match) -> None:
        for i in list(free_before):
            j = next((j for j in free_after if match(before[i], after[j])), None)
            if j is not None:
                pairs.append((i, j))
                free_before.remove(i)
                free_after.remove(j)

    take(lambda a, b: a.sid is not None and a.sid == b.sid)
    take(lambda a, b: a == b)
    while free_before and free_after:
        score, i, j = max((_similarity(before[i], after[j]), i, j) for i in free_before for j in free_after)
        if score == 0:
            break
        pairs.append((i, j))
        free_before.remove(i)
        free_after.remove(j)
    return sorted(pairs, key=lambda pair: pair[1]), free_before, free_after


def _wildcards(values: Iterable[str]) -> list[str]:
    return [value for value in values if "*" in value]


def _added_statement(statement: Statement, label: str, resource_policy: bool) -> tuple[StatementDiff, list[Widening]]:
    added = {name: statement.shown(getattr(statement, attr)) for attr, name in _FIELDS if getattr(statement, attr)}
    diff = StatementDiff(
        "added",
        label,
        statement.effect,
        added=added,
        conditions_added=sorted(_condition_text(c, statement) for c in statement.conditions),
    )
    return diff, _widening_of_additions(
        statement,
        label,
        statement.actions,
        statement.resources,
        statement.principals,
        statement.not_actions,
        statement.not_resources,
        resource_policy,
    )


def _widening_of_additions(
    statement: Statement, label: str, actions, resources, principals, not_actions, not_resources, resource_policy: bool
) -> list[Widening]:
    if statement.effect != "Allow":
        return []
    found = [
        Widening(
            "wildcard_action",
            label,
            f"new wildcard action `{statement.display.get(a, a)}`{_breadth(statement.display.get(a, a))}",
        )
        for a in sorted(_wildcards(actions))
    ]
    found += [
        Widening("wildcard_resource", label, f"new wildcard resource `{r}`{_breadth(r)}")
        for r in sorted(_wildcards(resources))
    ]
    for principal in sorted(principals):
        if principal == "*":
            found.append(Widening("public_principal", label, "new principal `*`: anyone"))
        elif resource_policy:
            found.append(
                Widening("new_principal", label, f"new principal `{statement.display.get(principal, principal)}`")
            )
    found += [
        Widening("not_action", label, f"allows every action except `{statement.display.get(a, a)}`")
        for a in sorted(not_actions)
    ]
    found += [Widening("not_resource", label, f"applies to every resource except `{r}`") for r in sorted(not_resources)]
    return found


def _changed_statement(
    old: Statement, new: Statement, label: str, resource_policy: bool
) -> tuple[StatementDiff | None, list[Widening]]:
    added, removed = {}, {}
    for attr, name in _FIELDS:
        before, after = getattr(old, attr), getattr(new, attr)
        if after - before:
            added[name] = new.shown(after - before)
        if before - after:
            removed[name] = old.shown(before - after)
    conditions_added = sorted(_condition_text(c, new) for c in new.conditions - old.conditions)
    conditions_removed = sorted(_condition_text(c, old) for c in old.conditions - new.conditions)
    if not (added or removed or conditions_added or conditions_removed or old.effect != new.effect):
        return None, []
    diff = StatementDiff(
        "changed",
        label,
        new.effect,
        old.effect if old.effect != new.effect else None,
        added,
        removed,
        conditions_added,
        conditions_removed,
    )
    widening: list[Widening] = []
    if new.effect == "Allow":
        widening += _widening_of_additions(
            new,
            label,
            new.actions - old.actions,
            new.resources - old.resources,
            new.principals - old.principals,
            new.not_actions - old.not_actions,
            new.not_resources - old.not_resources,
            resource_policy,
        )
        if old.effect == "Deny":
            widening.append(Widening("deny_removed", label, "changed from Deny to Allow"))
        old_keys = {(op, key): values for op, key, values in old.conditions}
        new_keys = {(op, key): values for op, key, values in new.conditions}
        for (op, key), values in sorted(old_keys.items()):
            if (op, key) not in new_keys:
                widening.append(
                    Widening(
                        "condition_dropped", label, f"condition dropped: `{_condition_text((op, key, values), old)}`"
                    )
                )
            elif not set(new_keys[(op, key)]) <= set(values):
                grown = sorted(set(new_keys[(op, key)]) - set(values))
                shown_key = new.display.get(f"condition:{key}", key)
                widening.append(
                    Widening(
                        "condition_widened", label, f"condition `{op} {shown_key}` now also matches {', '.join(grown)}"
                    )
                )
    elif old.effect == "Deny":
        lost = sorted((old.actions - new.actions) | (old.resources - new.resources))
        if lost or conditions_added:
            what = (
                f"no longer denies {', '.join(f'`{old.display.get(x, x)}`' for x in lost)}"
                if lost
                else "denies only under new conditions"
            )
            widening.append(Widening("deny_narrowed", label, what))
    return diff, widening


def diff_policies(
    before: tuple[Statement, ...], after: tuple[Statement, ...], *, resource_policy: bool
) -> tuple[tuple[StatementDiff, ...], tuple[Widening, ...]]:
    pairs, gone, new = pair_statements(before, after)
    diffs: list[StatementDiff] = []
    widening: list[Widening] = []
    for i, j in pairs:
        diff, found = _changed_statement(before[i], after[j], after[j].label(j), resource_policy)
        if diff is not None:
            diffs.append(diff)
            widening += found
    for j in new:
        diff, found = _added_statement(after[j], after[j].label(j), resource_policy)
        diffs.append(diff)
        widening += found
    for i in gone:
        statement = before[i]
        label = statement.label(i)
        removed = {
            name: statement.shown(getattr(statement, attr)) for attr, name in _FIELDS if getattr(statement, attr)
        }
        diffs.append(
            StatementDiff(
                "removed",
                label,
                statement.effect,
                removed=removed,
                conditions_removed=sorted(_condition_text(c, statement) for c in statement.conditions),
            )
        )
        if statement.effect == "Deny":
            widening.append(Widening("deny_removed", label, "a Deny statement is removed"))
    return tuple(diffs), tuple(widening)


def policy_kind(resource_type: str, attribute: str) -> str | None:
    """The kind of policy ATTRIBUTE of RESOURCE_TYPE holds (trust, bucket ...), or None when it is no policy."""
    return next((kind for name, kind in POLICY_ATTRIBUTES.get(resource_type, ()) if name == attribute), None)


def statement_changes(before: Any, after: Any, kind: str) -> tuple[tuple[StatementDiff, ...], tuple[Widening, ...]]:
    """The statement-level difference of two spellings of one policy (raises PolicyUnreadable)."""
    return diff_policies(parse_policy(before), parse_policy(after), resource_policy=kind in RESOURCE_POLICY_KINDS)


def _side(change: ResourceChange, attribute: str, side: str) -> tuple[Any, bool, bool]:
    """(value, sensitive, unknown) of ATTRIBUTE on SIDE (before/after) of CHANGE."""
    c = change.change
    values = c.before if side == "before" else c.after
    mask = c.before_sensitive if side == "before" else c.after_sensitive
    value = values.get(attribute) if isinstance(values, dict) else None
    sensitive = mask is True or (isinstance(mask, dict) and bool(mask.get(attribute)))
    unknown = side == "after" and (
        c.after_unknown is True or (isinstance(c.after_unknown, dict) and c.after_unknown.get(attribute) is True)
    )
    return value, sensitive, unknown


def _policy_action(kind: Kind, before_present: bool, after_present: bool) -> str:
    if kind is Kind.DESTROY or not after_present:
        return "delete"
    if kind is Kind.ADD or not before_present:
        return "create"
    return "update"


def _depends_on(plan: StackPlan, change: ResourceChange, attribute: str) -> str:
    config = plan.configuration.resources.get(change.config_address)
    references = sorted(
        {
            ref
            for ref in (config.references(attribute) if config else ())
            if ref.count(".") >= 2 and not ref.startswith(("var.", "local.", "each.", "count."))
        }
    )
    return f" (depends on {', '.join(f'`{ref}`' for ref in references[:4])})" if references else ""


def _policy_change(
    plan: StackPlan,
    change: ResourceChange,
    attribute: str,
    kind: str,
    before: tuple[Any, bool, bool],
    after: tuple[Any, bool, bool],
) -> PolicyChange | None:
    action_kind = kind_of(change.change.actions)
    (b_value, b_sensitive, _), (a_value, a_sensitive, a_unknown) = before, after
    if action_kind is Kind.DESTROY:
        a_value, a_sensitive, a_unknown = None, False, False
    if action_kind is Kind.ADD:
        b_value, b_sensitive = None, False
    present_before, present_after = (
        b_value not in (None, "") or b_sensitive,
        a_value not in (None, "") or a_sensitive or a_unknown,
    )
    if not present_before and not present_after:
        return None
    action = _policy_action(action_kind, present_before, present_after)
    base = {
        "stack": plan.stack,
        "address": change.address,
        "resource_type": change.type,
        "attribute": attribute,
        "kind": kind,
        "action": action,
        "deposed": change.deposed,
    }
    if b_sensitive or a_sensitive:
        if b_sensitive and a_sensitive and action == "update" and change.change.before == change.change.after:
            return None
        return PolicyChange(
            **base, unavailable="(sensitive value): Terraform masks this policy, so its statements are not shown"
        )
    if a_unknown:
        return PolicyChange(**base, unavailable="known after apply" + _depends_on(plan, change, attribute))
    if b_value == a_value:
        return None
    try:
        diffs, widening = statement_changes(b_value, a_value, kind)
    except PolicyUnreadable as exc:
        return PolicyChange(**base, unavailable=f"not a readable policy document ({exc})")
    if not diffs:
        return None  # the same statements, differently spelled (AWS normalises policies on read)
    return PolicyChange(**base, statements=diffs, widening=widening)


def _inline_policies(change: ResourceChange, side: str) -> dict[str, Any]:
    values = change.change.before if side == "before" else change.change.after
    entries = values.get("inline_policy") if isinstance(values, dict) else None
    return {
        str(entry.get("name")): entry.get("policy")
        for entry in entries or ()
        if isinstance(entry, dict) and entry.get("name")
    }


def _attachment_change(plan: StackPlan, change: ResourceChange) -> PolicyChange | None:
    kind = kind_of(change.change.actions)
    if kind not in (Kind.ADD, Kind.DESTROY, Kind.REPLACE, Kind.CHANGE):
        return None
    before = change.change.before if isinstance(change.change.before, dict) else {}
    after = change.change.after if isinstance(change.change.after, dict) else {}
    target = ATTACHMENT_TYPES[change.type]
    if kind is Kind.DESTROY:
        arn, action = before.get("policy_arn"), "delete"
    else:
        arn, action = after.get("policy_arn"), "create" if kind is Kind.ADD else "update"
    if before.get("policy_arn") == after.get("policy_arn") and kind is not Kind.ADD and kind is not Kind.DESTROY:
        return None
    label = f"`{arn}` attached to {target} `{(after or before).get(target)}`" if arn else "policy known after apply"
    widening = (
        (Widening("managed_policy_attached", "attachment", f"managed policy {label}"),)
        if action != "delete" and arn
        else ()
    )
    diff = StatementDiff(
        "added" if action != "delete" else "removed",
        "attachment",
        "Allow",
        added={"managed policy": [str(arn)]} if action != "delete" else {},
        removed={"managed policy": [str(before.get("policy_arn"))]} if action != "create" else {},
    )
    return PolicyChange(
        stack=plan.stack,
        address=change.address,
        resource_type=change.type,
        attribute="policy_arn",
        kind="attachment",
        action=action,
        statements=(diff,),
        widening=widening,
        deposed=change.deposed,
    )


def iam_changes(plan: StackPlan) -> list[PolicyChange]:
    """Every policy change of PLAN's resource changes, in plan order."""
    found: list[PolicyChange] = []
    for change in plan.resource_changes:
        if change.mode != "managed" or kind_of(change.change.actions) in (Kind.NO_OP, Kind.READ, Kind.FORGET):
            continue
        if change.type in ATTACHMENT_TYPES:
            item = _attachment_change(plan, change)
            found += [item] if item else []
            continue
        config = plan.configuration.resources.get(change.config_address)
        for attribute, kind in POLICY_ATTRIBUTES.get(change.type, ()):
            if (change.type, attribute) in OPTIONAL_COMPUTED and (config is None or not config.sets(attribute)):
                continue
            item = _policy_change(
                plan, change, attribute, kind, _side(change, attribute, "before"), _side(change, attribute, "after")
            )
            found += [item] if item else []
        if change.type == "aws_iam_role":
            found += _inline_policy_changes(plan, change, config)
    return found


def _inline_policy_changes(plan: StackPlan, change: ResourceChange, config: Any) -> list[PolicyChange]:
    if config is not None and not config.sets("inline_policy"):
        return []
    before, after = _inline_policies(change, "before"), _inline_policies(change, "after")
    found = []
    for name in sorted(set(before) | set(after)):
        item = _policy_change(
            plan,
            change,
            f"inline_policy[{name}]",
            "identity",
            (before.get(name), False, False),
            (after.get(name), False, False),
        )
        found += [item] if item else []
    return found
