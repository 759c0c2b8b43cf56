"""Fixed monthly cost of each stack before and after the plan, from the dated price table (prices.toml).

Why our own: the usual tool for this (Infracost) prices neither SageMaker endpoints nor Fargate Spot (its issues
#2733 and #275), and those are most of an inference pipeline's bill. This module prices what runs whether or
not anyone calls it, per resource and per side of the change:
- counts follow what will run: an Application Auto Scaling target's minimum where one scales the resource
  (the floor paid with no traffic; its maximum is shown as a ceiling), else the configured count;
- a resource is linked to what sizes it (endpoint -> endpoint configuration, service -> task definition and
  scaling target) by value where the plan knows it, else by the configuration's references, so a first deploy
  (everything "known after apply") is still priced;
- traffic-driven items (requests, GB processed, duration) are never turned into totals: the review lists their
  unit prices, with the assumptions, for the resource types present;
- anything the table cannot price (no rule, no price for the instance type or region, a count only known after
  apply) is listed as not priced, with the reason, and left out of BOTH totals: a difference only compares what
  is priced on both sides.
Every number comes out of the table as a Decimal; nothing is rounded until it is displayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from tools.plan_review.classify import Kind, kind_of
from tools.plan_review.model import ResourceChange, StackPlan, strip_instance_keys
from tools.plan_review.prices import Price, PriceTable
from tools.plan_review.values import any_true, format_path, value_at

ONE = Decimal(1)
MIB_PER_GIB = Decimal(1024)
FARGATE_FREE_EPHEMERAL_GIB = Decimal(20)
EKS_NODE_GROUP_DEFAULT_INSTANCE = "t3.medium"  # what EKS uses when instance_types is empty

ASSUMPTIONS = (
    "on-demand list prices, before tax, without free tiers, Savings Plans or reserved capacity",
    "a month is {hours} hours",
    "a resource scaled by Application Auto Scaling runs its minimum capacity (its maximum is shown as a ceiling, "
    "not counted)",
    "Fargate Spot is counted at its smallest discount ({spot}), the expensive end of its range",
    "Fargate tasks are Linux/x86 unless their task definition says ARM64",
    "a KMS key costs one key-month; each of its first two automatic rotations adds one more (not counted)",
)


class Unknown(Exception):
    """A value the price depends on is known only after apply."""


class NotInTable(Exception):
    """The table has no price for what this resource needs."""


@dataclass(frozen=True)
class Charge:
    """QUANTITY units running all month at PRICE: FACTOR turns the price's unit into a month (730 for an hourly
    price, the seconds of a month for a per-second one, 1 for a monthly one); MULTIPLIER applies a discount."""

    what: str
    quantity: Decimal
    price: Price
    factor: Decimal
    multiplier: Decimal = ONE
    note: str | None = None

    @property
    def monthly(self) -> Decimal:
        return self.quantity * self.price.usd * self.factor * self.multiplier


@dataclass(frozen=True)
class Estimate:
    """The fixed monthly cost of one side of one resource, as the charges that make it up."""

    charges: tuple[Charge, ...]
    ceiling: Decimal | None = None
    notes: tuple[str, ...] = ()

    @property
    def monthly(self) -> Decimal:
        return sum((charge.monthly for charge in self.charges), Decimal(0))

    @property
    def uncertain(self) -> bool:
        return any(charge.price.uncertain for charge in self.charges)


@dataclass(frozen=True)
class Free:
    """No charge of its own (IAM, routes, listeners ...), with the reason and its source."""

    reason: str


@dataclass(frozen=True)
class Unpriced:
    reason: str


Outcome = Estimate | Free | Unpriced


@dataclass(frozen=True)
class ResourceCost:
    address: str
    resource_type: str
    deposed: str | None
    before: Outcome | None
    after: Outcome | None
    note: str | None = None

    @property
    def unpriced_reason(self) -> str | None:
        """Why this resource is left out of the totals (a side the table cannot price), or None."""
        sides = [(name, o) for name, o in (("before", self.before), ("after", self.after)) if isinstance(o, Unpriced)]
        if not sides:
            return None
        reasons = {outcome.reason for _, outcome in sides}
        if len(reasons) == 1 and (len(sides) == 2 or self.before is None or self.after is None):
            return sides[0][1].reason
        return "; ".join(f"{name}: {outcome.reason}" for name, outcome in sides)

    @property
    def priced(self) -> bool:
        return self.unpriced_reason is None and (isinstance(self.before, Estimate) or isinstance(self.after, Estimate))

    def monthly(self, side: str) -> Decimal:
        outcome = self.before if side == "before" else self.after
        return outcome.monthly if isinstance(outcome, Estimate) else Decimal(0)


@dataclass(frozen=True)
class UsagePrice:
    """A unit price the review lists (not totals): traffic-driven, for the resource types that incur it."""

    price: Price
    resource_types: tuple[str, ...]


@dataclass
class StackCost:
    stack: str
    regions: tuple[str, ...]
    resources: list[ResourceCost] = field(default_factory=list)

    @property
    def priced(self) -> list[ResourceCost]:
        return [r for r in self.resources if r.priced]

    @property
    def not_priced(self) -> list[ResourceCost]:
        return [r for r in self.resources if r.unpriced_reason is not None]

    @property
    def before(self) -> Decimal:
        return sum((r.monthly("before") for r in self.priced), Decimal(0))

    @property
    def after(self) -> Decimal:
        return sum((r.monthly("after") for r in self.priced), Decimal(0))

    @property
    def difference(self) -> Decimal:
        return self.after - self.before

    @property
    def uncertain(self) -> bool:
        return any(isinstance(o, Estimate) and o.uncertain for r in self.priced for o in (r.before, r.after))


@dataclass(frozen=True)
class Side:
    """One side (before or after) of a resource change, as pricing reads it."""

    change: ResourceChange
    name: str
    values: dict[str, Any]
    unknown: Any = None

    @classmethod
    def of(cls, change: ResourceChange, name: str) -> Side | None:
        values = change.change.before if name == "before" else change.change.after
        if not isinstance(values, dict):
            return None
        return cls(change, name, values, change.change.after_unknown if name == "after" else None)

    def is_known(self, *path: str | int) -> bool:
        """Whether the value at PATH is wholly known (nothing at or under it is "known after apply")."""
        return not any(value_at(self.unknown, path[:depth]) is True for depth in range(len(path))) and not any_true(
            value_at(self.unknown, path)
        )

    def get(self, key: str, default: Any = None) -> Any:
        """The value of KEY (unknown parts of a nested value read as null: check them with `need`)."""
        if value_at(self.unknown, (key,)) is True:
            raise Unknown(f"`{key}` is known only after apply")
        value = self.values.get(key)
        return default if value is None else value

    def need(self, *path: str | int) -> Any:
        """The value at PATH, which must be known."""
        if not self.is_known(*path):
            raise Unknown(f"`{format_path(path)}` is known only after apply")
        return value_at(self.values, path)

    def first(self, key: str) -> dict[str, Any]:
        """The single nested block KEY (Terraform JSON spells it as a one-element list), or {}."""
        value = self.get(key)
        if isinstance(value, list):
            return value[0] if value and isinstance(value[0], dict) else {}
        return value if isinstance(value, dict) else {}


def _number(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise NotInTable(f"{what} {value!r} is not a number") from None


_NOT_RESOURCES = {"var", "local", "each", "count", "self", "path", "terraform", "module", "data"}


def _name_from_arn(value: Any) -> str:
    """`arn:aws:ecs:...:cluster/name` -> `name`; a plain name stays."""
    text = str(value or "")
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text


class Pricing:
    """Prices one stack's resources: the table, the region, and indexes over the plan built once (linear)."""

    def __init__(self, plan: StackPlan, table: PriceTable, region_override: str | None = None) -> None:
        self.plan, self.table, self.region_override = plan, table, region_override
        self.region = region_override
        self._by_type: dict[str, list[ResourceChange]] = {}
        self._by_block: dict[tuple[str, str], list[ResourceChange]] = {}
        for change in plan.resource_changes:
            if change.mode == "managed" and change.deposed is None:
                self._by_type.setdefault(change.type, []).append(change)
                self._by_block.setdefault((change.module_address or "", change.config_address), []).append(change)
        self._value_index: dict[tuple[str, str, str], dict[str, Side]] = {}
        self._scaling_indexes: dict[tuple[str, str, str], tuple[dict[str, Side], dict[tuple[str, str], Side]]] = {}

    # --- prices ------------------------------------------------------------------------------------------
    def price(self, key: str, member: str | None = None) -> Price:
        if self.region is None:
            raise NotInTable("the plan does not state its region (pass --region)")
        if not self.table.knows_region(self.region):
            raise NotInTable(f"the table has no prices for {self.region}")
        price = self.table.price(self.region, key, member)
        if price is None:
            raise NotInTable(f"no price for {member or key} in {self.region}")
        return price

    def hourly(self, what: str, quantity: Any, key: str, member: str | None = None, **kw: Any) -> Charge:
        return Charge(what, Decimal(quantity), self.price(key, member), self.table.hours_per_month, **kw)

    def monthly(self, what: str, quantity: Any, key: str) -> Charge:
        return Charge(what, Decimal(quantity), self.price(key), ONE)

    def per_second(self, what: str, quantity: Any, key: str) -> Charge:
        return Charge(what, Decimal(quantity), self.price(key), self.table.seconds_per_month)

    # --- links between resources -------------------------------------------------------------------------
    def sides(self, resource_type: str, side_name: str) -> list[Side]:
        found = []
        for change in self._by_type.get(resource_type, ()):
            side = Side.of(change, side_name)
            if side is not None:
                found.append(side)
        return found

    def _index(self, resource_type: str, side_name: str, keys: Callable[[Side], list[str]]) -> dict[str, Side]:
        cache_key = (resource_type, side_name, getattr(keys, "__name__", ""))
        index = self._value_index.get(cache_key)
        if index is None:
            index = {}
            for side in self.sides(resource_type, side_name):
                for key in keys(side):
                    index.setdefault(key, side)
            self._value_index[cache_key] = index
        return index

    def _blocks(self, change: ResourceChange, argument: str) -> list[str]:
        """Configuration addresses of the resource blocks that CHANGE's ARGUMENT refers to (same module)."""
        config = self.plan.configuration.resources.get(change.config_address)
        if config is None:
            return []
        module = change.module_address or ""
        prefix = f"{strip_instance_keys(module)}." if module else ""
        blocks: list[str] = []
        for reference in config.references(argument):
            parts = reference.split(".")
            if len(parts) >= 2 and parts[0] not in _NOT_RESOURCES:
                block = prefix + f"{parts[0]}.{parts[1].split('[', 1)[0]}"
                if block not in blocks:
                    blocks.append(block)
        return blocks

    def referenced(self, side: Side, argument: str, resource_type: str) -> list[Side]:
        """The SIDE of every resource of RESOURCE_TYPE that SIDE's ARGUMENT refers to in the configuration."""
        module = side.change.module_address or ""
        found = []
        for block in self._blocks(side.change, argument):
            for change in self._by_block.get((module, block), ()):
                target = Side.of(change, side.name) if change.type == resource_type else None
                if target is not None:
                    found.append(target)
        return found

    def linked(
        self,
        side: Side,
        argument: str,
        resource_type: str,
        keys: Callable[[Side], list[str]],
        value_key: Callable[[Any], str] = str,
    ) -> Side | None:
        """The resource of RESOURCE_TYPE that SIDE's ARGUMENT names: by value when known (KEYS gives the values a
        target answers to), else the one resource its configuration refers to."""
        if side.is_known(argument) and side.values.get(argument):
            match = self._index(resource_type, side.name, keys).get(value_key(side.values[argument]))
            if match is not None:
                return match
        referenced = self.referenced(side, argument, resource_type)
        return referenced[0] if len(referenced) == 1 else None

    def scaling(self, side: Side, namespace: str, dimension: str, resource_id: str | None) -> tuple[int, int] | None:
        """(min, max) capacity of the scaling target that scales SIDE's resource on DIMENSION, if there is one:
        matched on its `resource_id` when both are known, else on what its `resource_id` refers to."""
        by_id, by_block = self._scaling_index(side.name, namespace, dimension)
        target = by_id.get(resource_id) if resource_id is not None else None
        if target is None:
            referring = by_block.get((side.change.module_address or "", side.change.config_address))
            # a target whose resource_id is known and differs scales something else (another variant)
            if referring is not None and (resource_id is None or not referring.is_known("resource_id")):
                target = referring
        if target is None:
            return None
        try:
            return int(target.get("min_capacity")), int(target.get("max_capacity"))
        except (TypeError, ValueError):
            return None

    def _scaling_index(
        self, side_name: str, namespace: str, dimension: str
    ) -> tuple[dict[str, Side], dict[tuple[str, str], Side]]:
        """Scaling targets of one side, namespace and dimension: by known resource_id, and by the resource
        block their resource_id refers to (for targets whose resource_id is known only after apply)."""
        key = ("aws_appautoscaling_target", side_name, f"{namespace}|{dimension}")
        cached = self._scaling_indexes.get(key)
        if cached is None:
            by_id: dict[str, Side] = {}
            by_block: dict[tuple[str, str], Side] = {}
            for target in self.sides("aws_appautoscaling_target", side_name):
                values = target.values
                if values.get("service_namespace") != namespace or values.get("scalable_dimension") != dimension:
                    continue
                if target.is_known("resource_id") and values.get("resource_id"):
                    by_id.setdefault(str(values["resource_id"]), target)
                for block in self._blocks(target.change, "resource_id"):
                    by_block.setdefault((target.change.module_address or "", block), target)
            cached = self._scaling_indexes[key] = (by_id, by_block)
        return cached

    # --- pricing -----------------------------------------------------------------------------------------
    def outcome(self, side: Side | None) -> Outcome | None:
        if side is None:
            return None
        rule = PRICING_RULES.get(side.change.type)
        if rule is None:
            free = self.table.no_charge(side.change.type)
            if free is not None:
                return Free(free.reason)
            return Unpriced(f"the price table has no price for {side.change.type}")
        self.region = self.region_override or self.plan.configuration.region_of(side.change)
        try:
            return rule(self, side)
        except (Unknown, NotInTable) as exc:
            return Unpriced(str(exc))


# --- rules, one per priced resource type -------------------------------------------------------------------


def _nat_gateway(p: Pricing, side: Side) -> Outcome:
    return Estimate((p.hourly("1 NAT gateway", 1, "nat_gateway_hour"),))


def _elastic_ip(p: Pricing, side: Side) -> Outcome:
    return Estimate((p.hourly("1 public IPv4 address", 1, "public_ipv4_hour"),))


def _load_balancer(p: Pricing, side: Side) -> Outcome:
    kind = side.get("load_balancer_type", "application")
    key = {"application": "alb_hour", "network": "nlb_hour"}.get(kind)
    if key is None:
        raise NotInTable(f"no price for a {kind} load balancer")
    return Estimate((p.hourly(f"1 {kind} load balancer", 1, key),))


def _subnet_count(p: Pricing, side: Side) -> int:
    if side.is_known("subnet_ids"):
        return len(set(side.get("subnet_ids", [])))
    referenced = p.referenced(side, "subnet_ids", "aws_subnet")
    if not referenced:
        raise Unknown("its subnets (one charge per AZ) are known only after apply")
    return len(referenced)


def _vpc_endpoint(p: Pricing, side: Side) -> Outcome:
    kind = side.get("vpc_endpoint_type", "Gateway")
    if kind == "Gateway":
        return Free("gateway endpoints (S3, DynamoDB) have no charge")
    if kind != "Interface":
        raise NotInTable(f"no price for a {kind} endpoint")
    count = _subnet_count(p, side)
    return Estimate((p.hourly(f"{count} AZ{'s' if count != 1 else ''}", count, "interface_endpoint_hour"),))


def _kms_key(p: Pricing, side: Side) -> Outcome:
    notes = ("each of its first two rotations adds a key-month",) if side.values.get("enable_key_rotation") else ()
    return Estimate((p.monthly("1 key", 1, "kms_key_month"),), notes=notes)


def _alarm(p: Pricing, side: Side) -> Outcome:
    queries = side.get("metric_query", []) or []
    metrics = [query.get("metric") for query in queries if query.get("metric")]
    periods = [int(m[0].get("period") or 60) for m in metrics if isinstance(m, list) and m] or [
        int(side.get("period", 60) or 60)
    ]
    count = len(metrics) if queries else 1
    if any("ANOMALY_DETECTION_BAND" in str(query.get("expression") or "") for query in queries):
        count, what = 3, "anomaly detection (3 metrics)"
    else:
        what = f"{count} metric{'s' if count != 1 else ''}"
    key = "alarm_high_resolution_metric_month" if min(periods) < 60 else "alarm_metric_month"
    return Estimate((p.monthly(what, count, key),))


def _composite_alarm(p: Pricing, side: Side) -> Outcome:
    return Estimate((p.monthly("1 composite alarm", 1, "composite_alarm_month"),))


def _dashboard(p: Pricing, side: Side) -> Outcome:
    return Estimate((p.monthly("1 dashboard", 1, "dashboard_month"),))


def _eks_cluster(p: Pricing, side: Side) -> Outcome:
    return Estimate(
        (p.hourly("1 cluster", 1, "eks_cluster_hour"),),
        notes=("standard support; a version in extended support costs more",),
    )


def _instances(p: Pricing, what: str, count: int, instance_type: str, ceiling: int | None) -> Estimate:
    charge = p.hourly(f"{count} × {instance_type}", count, "ec2_instance_hour", instance_type)
    top = (charge.price.usd * p.table.hours_per_month * ceiling) if ceiling is not None and ceiling > count else None
    return Estimate((charge,), ceiling=top, notes=(what,) if what else ())


def _ec2_instance(p: Pricing, side: Side) -> Outcome:
    return _instances(p, "", 1, str(side.get("instance_type")), None)


def _eks_node_group(p: Pricing, side: Side) -> Outcome:
    if side.get("capacity_type", "ON_DEMAND") == "SPOT":
        raise NotInTable("Spot instance prices vary by the hour; the table holds on-demand prices")
    scaling = side.first("scaling_config")
    types = side.get("instance_types", []) or [EKS_NODE_GROUP_DEFAULT_INSTANCE]
    minimum, maximum = int(scaling.get("min_size") or 0), int(scaling.get("max_size") or 0)
    return _instances(
        p, f"node group minimum (desired {scaling.get('desired_size')}, max {maximum})", minimum, str(types[0]), maximum
    )


def _ebs_volume(p: Pricing, side: Side) -> Outcome:
    volume_type = side.get("type", "gp3")
    key = {"gp3": "ebs_gp3_gb_month", "gp2": "ebs_gp2_gb_month"}.get(volume_type)
    if key is None:
        raise NotInTable(f"no price for {volume_type} volumes")
    size = int(side.get("size", 0))
    return Estimate((p.monthly(f"{size} GB {volume_type}", size, key),))


def _secret(p: Pricing, side: Side) -> Outcome:
    return Estimate((p.monthly("1 secret", 1, "secret_month"),))


def _ssm_parameter(p: Pricing, side: Side) -> Outcome:
    tier = side.get("tier", "Standard")
    if tier == "Advanced":
        return Estimate((p.monthly("1 advanced parameter", 1, "ssm_advanced_parameter_month"),))
    if tier == "Standard":
        return Free("standard parameters have no charge")
    raise NotInTable(f"tier {tier} is priced by the size AWS picks")


def _hosted_zone(p: Pricing, side: Side) -> Outcome:
    return Estimate((p.monthly("1 hosted zone", 1, "hosted_zone_month"),))


def _web_acl(p: Pricing, side: Side) -> Outcome:
    rules = len(side.get("rule", []) or [])
    charges = [p.monthly("1 web ACL", 1, "waf_web_acl_month")]
    if rules:
        charges.append(p.monthly(f"{rules} rule{'s' if rules != 1 else ''}", rules, "waf_rule_month"))
    return Estimate(tuple(charges))


def _tgw_attachment(p: Pricing, side: Side) -> Outcome:
    return Estimate((p.hourly("1 attachment", 1, "transit_gateway_attachment_hour"),))


def _dynamodb_table(p: Pricing, side: Side) -> Outcome:
    if side.get("billing_mode", "PROVISIONED") == "PAY_PER_REQUEST":
        return Free("on-demand tables have no fixed charge")
    read, write = int(side.get("read_capacity", 0)), int(side.get("write_capacity", 0))
    for index in side.get("global_secondary_index", []) or []:
        read += int(index.get("read_capacity") or 0)
        write += int(index.get("write_capacity") or 0)
    return Estimate(
        (p.hourly(f"{read} RCU", read, "dynamodb_rcu_hour"), p.hourly(f"{write} WCU", write, "dynamodb_wcu_hour"))
    )


def _lambda_provisioned_concurrency(p: Pricing, side: Side) -> Outcome:
    function = p.linked(side, "function_name", "aws_lambda_function", _function_keys)
    if function is None:
        raise Unknown("its function is not in this plan, so its memory size is unknown")
    memory = _number(function.get("memory_size", 128), "memory_size") / MIB_PER_GIB
    arm = "arm64" in (function.get("architectures", []) or [])
    executions = int(side.get("provisioned_concurrent_executions"))
    key = "lambda_arm_provisioned_gb_second" if arm else "lambda_provisioned_gb_second"
    return Estimate((p.per_second(f"{executions} × {_fmt(memory)} GB", executions * memory, key),))


def _function_keys(side: Side) -> list[str]:
    return [str(side.values.get(key)) for key in ("function_name", "arn") if side.values.get(key)]


# --- SageMaker endpoints ---------------------------------------------------------------------------------


def _endpoint_config_keys(side: Side) -> list[str]:
    return [str(side.values["name"])] if side.values.get("name") and side.is_known("name") else []


def _sagemaker_endpoint(p: Pricing, side: Side) -> Outcome:
    config = p.linked(side, "endpoint_config_name", "aws_sagemaker_endpoint_configuration", _endpoint_config_keys)
    if config is None:
        raise Unknown("its endpoint configuration is not in this plan, so its instances are unknown")
    endpoint_name = side.values.get("name") if side.is_known("name") else None
    is_async = bool(config.values.get("async_inference_config"))
    charges: list[Charge] = []
    ceiling = Decimal(0)
    notes: list[str] = ["asynchronous inference"] if is_async else []
    variants = list(config.get("production_variants", []) or []) + list(
        config.values.get("shadow_production_variants") or []
    )
    for index, variant in enumerate(variants):
        where = (
            ("production_variants", index)
            if index < len(config.values.get("production_variants") or [])
            else ("shadow_production_variants", index - len(config.values.get("production_variants") or []))
        )
        name = config.need(*where, "variant_name") or "AllTraffic"
        resource_id = f"endpoint/{endpoint_name}/variant/{name}" if endpoint_name else None
        serverless = (variant.get("serverless_config") or [None])[0]
        if serverless:
            memory = (
                _number(config.need(*where, "serverless_config", 0, "memory_size_in_mb"), "memory_size_in_mb")
                / MIB_PER_GIB
            )
            provisioned = int(config.need(*where, "serverless_config", 0, "provisioned_concurrency") or 0)
            scaled = p.scaling(side, "sagemaker", "sagemaker:variant:DesiredProvisionedConcurrency", resource_id)
            if scaled is not None:
                provisioned = scaled[0]
            if provisioned:
                charge = p.per_second(
                    f"variant {name}: {provisioned} × {_fmt(memory)} GB provisioned concurrency",
                    provisioned * memory,
                    "sagemaker_serverless_provisioned_gb_second",
                )
                charges.append(charge)
                if scaled is not None and scaled[1] > provisioned:
                    ceiling += charge.monthly / provisioned * scaled[1] - charge.monthly
            else:
                notes.append(f"variant {name}: serverless without provisioned concurrency (usage only)")
            continue
        instance_type = config.need(*where, "instance_type")
        if not instance_type:
            raise NotInTable(f"variant {name} has neither an instance type nor a serverless configuration")
        count = int(config.need(*where, "initial_instance_count") or 1)
        scaled = p.scaling(side, "sagemaker", "sagemaker:variant:DesiredInstanceCount", resource_id)
        if scaled is not None:
            count = scaled[0]
        charge = p.hourly(
            f"variant {name}: {count} × {instance_type}", count, "sagemaker_instance_hour", str(instance_type)
        )
        charges.append(charge)
        if scaled is not None and scaled[1] > count:
            ceiling += charge.price.usd * p.table.hours_per_month * (scaled[1] - count)
    total = sum((c.monthly for c in charges), Decimal(0))
    return Estimate(tuple(charges), ceiling=total + ceiling if ceiling else None, notes=tuple(notes))


# --- ECS services on Fargate ------------------------------------------------------------------------------


def _task_definition_keys(side: Side) -> list[str]:
    values = side.values
    keys = [str(values[key]) for key in ("arn", "arn_without_revision") if values.get(key) and side.is_known(key)]
    if values.get("family"):
        keys.append(str(values["family"]))
        if values.get("revision") and side.is_known("revision"):
            keys.append(f"{values['family']}:{values['revision']}")
    return keys


def _capacity_split(strategy: list[dict[str, Any]], tasks: Decimal) -> dict[str, Decimal]:
    """Tasks per capacity provider: the provider with a base gets it first, the rest goes by weight (ECS's rule)."""
    split: dict[str, Decimal] = {}
    remaining = tasks
    for item in strategy:
        base = min(Decimal(int(item.get("base") or 0)), remaining)
        if base:
            split[item["capacity_provider"]] = split.get(item["capacity_provider"], Decimal(0)) + base
            remaining -= base
    weights = sum(Decimal(int(item.get("weight") or 0)) for item in strategy)
    for item in strategy:
        weight = Decimal(int(item.get("weight") or 0))
        if weights and weight:
            split[item["capacity_provider"]] = (
                split.get(item["capacity_provider"], Decimal(0)) + remaining * weight / weights
            )
    return split


def _cluster_default_strategy(p: Pricing, side: Side) -> list[dict[str, Any]]:
    cluster = _name_from_arn(side.values.get("cluster"))
    for providers in p.sides("aws_ecs_cluster_capacity_providers", side.name):
        if _name_from_arn(providers.values.get("cluster_name")) == cluster:
            return list(providers.values.get("default_capacity_provider_strategy") or [])
    return []


def _fargate_task_size(task: Side) -> tuple[Decimal, Decimal, Decimal, bool]:
    """(vCPU, memory GB, ephemeral storage GB, ARM) of a Fargate task definition."""
    platform = task.first("runtime_platform") if task.values.get("runtime_platform") else {}
    if str(platform.get("operating_system_family") or "LINUX").upper().startswith("WINDOWS"):
        raise NotInTable("Windows tasks add a licence fee the table does not hold")
    storage = (task.first("ephemeral_storage") if task.values.get("ephemeral_storage") else {}).get("size_in_gib")
    return (
        _number(task.get("cpu"), "task cpu") / MIB_PER_GIB,
        _number(task.get("memory"), "task memory") / MIB_PER_GIB,
        Decimal(int(storage or FARGATE_FREE_EPHEMERAL_GIB)),
        str(platform.get("cpu_architecture") or "X86_64").upper() == "ARM64",
    )


def _ecs_service(p: Pricing, side: Side) -> Outcome:
    strategy = list(side.get("capacity_provider_strategy", []) or [])
    # launch_type is computed when unset: unknown on a new service that does not set it.
    launch_type = (side.values.get("launch_type") or "") if side.is_known("launch_type") else ""
    if not strategy and not launch_type:
        strategy = _cluster_default_strategy(p, side)
    if not strategy:
        strategy = [{"capacity_provider": launch_type or "EC2", "weight": 1}]
    if not any(item.get("capacity_provider") in ("FARGATE", "FARGATE_SPOT") for item in strategy):
        return Free("runs on EC2 capacity, priced as its instances")
    task = p.linked(side, "task_definition", "aws_ecs_task_definition", _task_definition_keys)
    if task is None:
        raise Unknown("its task definition is not in this plan, so its size is unknown")
    vcpu, memory, storage, arm = _fargate_task_size(task)
    tasks = int(side.get("desired_count", 0))
    cluster = _name_from_arn(side.values.get("cluster"))
    resource_id = f"service/{cluster}/{side.values.get('name')}" if cluster and side.values.get("name") else None
    scaled = p.scaling(side, "ecs", "ecs:service:DesiredCount", resource_id)
    if scaled is not None:
        tasks = scaled[0]
    spot = p.table.discount(p.region or "", "fargate_spot_discount")
    cpu_key, gb_key = (
        ("fargate_arm_vcpu_hour", "fargate_arm_gb_hour") if arm else ("fargate_vcpu_hour", "fargate_gb_hour")
    )

    def charges_for(count: int) -> list[Charge]:
        charges: list[Charge] = []
        for provider, share in _capacity_split(strategy, Decimal(count)).items():
            if provider not in ("FARGATE", "FARGATE_SPOT") or not share:
                continue
            multiplier, note = ONE, None
            if provider == "FARGATE_SPOT":
                if spot is None:
                    raise NotInTable(f"no Fargate Spot discount for {p.region}")
                multiplier = ONE - spot.minimum
                note = (
                    f"Spot: {_pct(spot.minimum)} to {_pct(spot.maximum)} off on-demand, counted at {_pct(spot.minimum)}"
                )
            label = f"{_fmt(share)} {provider.lower().replace('_', ' ')} task{'s' if share != 1 else ''}"
            charges.append(
                p.hourly(f"{label} × {_fmt(vcpu)} vCPU", share * vcpu, cpu_key, multiplier=multiplier, note=note)
            )
            charges.append(p.hourly(f"{label} × {_fmt(memory)} GB", share * memory, gb_key, multiplier=multiplier))
            if storage > FARGATE_FREE_EPHEMERAL_GIB:
                extra = storage - FARGATE_FREE_EPHEMERAL_GIB
                charges.append(
                    p.hourly(
                        f"{label} × {_fmt(extra)} GB ephemeral storage",
                        share * extra,
                        "fargate_ephemeral_gb_hour",
                        multiplier=multiplier,
                    )
                )
        return charges

    ceiling = None
    if scaled is not None and scaled[1] > tasks:
        ceiling = sum((c.monthly for c in charges_for(scaled[1])), Decimal(0))
    notes = (f"scales {scaled[0]} to {scaled[1]} tasks",) if scaled is not None else ()
    return Estimate(tuple(charges_for(tasks)), ceiling=ceiling, notes=notes)


PRICING_RULES: dict[str, Callable[[Pricing, Side], Outcome]] = {
    "aws_nat_gateway": _nat_gateway,
    "aws_eip": _elastic_ip,
    "aws_lb": _load_balancer,
    "aws_alb": _load_balancer,
    "aws_vpc_endpoint": _vpc_endpoint,
    "aws_kms_key": _kms_key,
    "aws_kms_replica_key": _kms_key,
    "aws_cloudwatch_metric_alarm": _alarm,
    "aws_cloudwatch_composite_alarm": _composite_alarm,
    "aws_cloudwatch_dashboard": _dashboard,
    "aws_eks_cluster": _eks_cluster,
    "aws_eks_node_group": _eks_node_group,
    "aws_instance": _ec2_instance,
    "aws_ebs_volume": _ebs_volume,
    "aws_secretsmanager_secret": _secret,
    "aws_ssm_parameter": _ssm_parameter,
    "aws_route53_zone": _hosted_zone,
    "aws_wafv2_web_acl": _web_acl,
    "aws_ec2_transit_gateway_vpc_attachment": _tgw_attachment,
    "aws_dynamodb_table": _dynamodb_table,
    "aws_lambda_provisioned_concurrency_config": _lambda_provisioned_concurrency,
    "aws_sagemaker_endpoint": _sagemaker_endpoint,
    "aws_ecs_service": _ecs_service,
}


def _fmt(value: Decimal) -> str:
    """A quantity as people write it: 0.5, 2, 20, 0.333."""
    return f"{value.quantize(Decimal('0.001'), rounding=ROUND_HALF_UP).normalize():f}"


def unit_price(price: Price) -> str:
    """`$0.045`, `$1.00`, `$0.0000048`: every digit the table has, at least cents."""
    usd = price.usd.normalize()
    shown = f"{usd:f}" if usd.as_tuple().exponent < -2 else f"{price.usd.quantize(Decimal('0.01')):f}"
    return f"{price.approx}${shown}"


def _pct(fraction: Decimal) -> str:
    return f"{_fmt(fraction * 100)} %"


def money(amount: Decimal, *, sign: bool = False) -> str:
    """`$1,234.56`; with SIGN, `+$1.00` / `-$1.00` / `$0.00`."""
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = f"${abs(cents):,.2f}"
    if sign and cents:
        return ("+" if cents > 0 else "-") + text
    return ("-" if cents < 0 else "") + text


def percent_change(before: Decimal, after: Decimal) -> str | None:
    """The change as a percentage of BEFORE, or None when BEFORE is zero (no percentage of nothing)."""
    if not before:
        return None
    change = ((after - before) / before * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{'+' if change > 0 else ''}{change} %"


def _resource_cost(pricing: Pricing, change: ResourceChange) -> ResourceCost:
    kind = kind_of(change.change.actions)
    before = Side.of(change, "before") if kind is not Kind.ADD else None
    note = None
    if kind is Kind.FORGET:
        outcome = pricing.outcome(before)
        return ResourceCost(
            change.address,
            change.type,
            change.deposed,
            outcome,
            outcome,
            note="removed from state but not destroyed: AWS still bills it",
        )
    after = Side.of(change, "after") if kind is not Kind.DESTROY else None
    before_outcome = pricing.outcome(before)
    if kind is Kind.NO_OP and before is not None and change.change.after == change.change.before:
        after_outcome = before_outcome
    else:
        after_outcome = pricing.outcome(after)
    return ResourceCost(change.address, change.type, change.deposed, before_outcome, after_outcome, note)


def stack_cost(plan: StackPlan, table: PriceTable, region: str | None = None) -> StackCost | None:
    """PLAN's fixed monthly cost before and after, resource by resource; None for a refresh-only plan (it changes
    nothing that is billed)."""
    if plan.refresh_only:
        return None
    pricing = Pricing(plan, table, region)
    resources = [_resource_cost(pricing, change) for change in plan.resource_changes if change.mode == "managed"]
    regions = sorted({r for r in ([region] if region else plan.configuration.provider_regions.values()) if r})
    return StackCost(stack=plan.stack, regions=tuple(regions), resources=resources)


def usage_prices(plans: list[StackPlan], table: PriceTable, region: str | None = None) -> list[UsagePrice]:
    """The unit prices of traffic-driven items for the resource types these plans keep or create, per region."""
    wanted: dict[tuple[str, str], list[str]] = {}
    for plan in plans:
        if plan.refresh_only:
            continue
        for change in plan.resource_changes:
            if change.mode != "managed" or kind_of(change.change.actions) is Kind.DESTROY:
                continue
            where = region or plan.configuration.region_of(change)
            if where is None or not table.knows_region(where):
                continue
            for key in table.usage_items(change.type):
                types = wanted.setdefault((where, key), [])
                if change.type not in types:
                    types.append(change.type)
    found = []
    for (where, key), types in wanted.items():
        price = table.price(where, key)
        if price is not None:
            found.append(UsagePrice(price, tuple(sorted(types))))
    return sorted(found, key=lambda u: (u.price.region, u.price.label))


def assumptions(table: PriceTable, region: str | None) -> list[str]:
    spot = table.discount(region, "fargate_spot_discount") if region else None
    spot_text = f"{_pct(spot.minimum)} off" if spot else "see the table"
    return [text.format(hours=table.hours_per_month, spot=spot_text) for text in ASSUMPTIONS]


@dataclass(frozen=True)
class CostLimit:
    """`--fail-on-cost-increase`: an amount per month (`100`, `$100`) or a percentage of before (`10%`)."""

    amount: Decimal | None = None
    percent: Decimal | None = None

    @classmethod
    def parse(cls, text: str) -> CostLimit:
        cleaned = text.strip().replace(",", "")
        try:
            if cleaned.endswith("%"):
                value = Decimal(cleaned[:-1].strip())
                if value < 0:
                    raise InvalidOperation
                return cls(percent=value)
            value = Decimal(cleaned.lstrip("$").strip())
            if value < 0:
                raise InvalidOperation
            return cls(amount=value)
        except InvalidOperation:
            raise ValueError(f"{text!r} is neither an amount (100, $100) nor a percentage (10%)") from None

    def exceeded(self, before: Decimal, after: Decimal) -> bool:
        increase = after - before
        if increase <= 0:
            return False
        if self.amount is not None:
            return increase > self.amount
        assert self.percent is not None
        return before == 0 or increase / before * 100 > self.percent

    def __str__(self) -> str:
        return f"{_fmt(self.percent)} %" if self.percent is not None else f"{money(self.amount or Decimal(0))}/month"
