"""How a new model reaches a SageMaker endpoint (`[inference.rollout]`), a candidate model shadowing production
(`[inference.shadow]`), and the environment's dashboard (`[inference.dashboard]`).

Why the rules below are checked here: SageMaker validates a deployment configuration only when UpdateEndpoint
runs, i.e. in the middle of a release, and the emulator validates nothing. Each rule cites the page that states it:
- deployment guardrails (blue/green traffic shifting, rolling updates, baking with auto-rollback) exist for
  real-time and asynchronous endpoints only; serverless endpoints get SageMaker's plain update
  (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails.html), and rolling updates exclude
  serverless and multi-variant endpoints (a shadow variant makes two)
  (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html);
- a canary is at most 50 % of the fleet, a linear step 10-50 %, a rolling batch 5-50 % (limits table);
- auto-rollback watches alarms only during baking periods, so a baking period shorter than the time the
  endpoint's alarms need to fire lets a bad model through unchallenged
  (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html);
- a shadow variant needs instances (real-time mode), and an endpoint holds at most one
  (https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-create.html).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from modules.config.base import StrictModel
from modules.config.image_tag import ImageTag
from modules.config.model_version import MODEL_VERSION_PATTERN
from modules.constructs.alarm_settings import TIME_TO_ALARM_SECONDS
from modules.limits import (
    SAGEMAKER_CANARY_SIZE,
    SAGEMAKER_DEPLOYMENT_TIMEOUT,
    SAGEMAKER_DEPLOYMENT_WAIT,
    SAGEMAKER_LINEAR_STEP,
    SAGEMAKER_ROLLING_BATCH,
)

Strategy = Literal["all-at-once", "canary", "linear", "rolling"]
GUARDED_MODES = ("real-time", "async")
SHADOW_MODES = ("real-time",)
WAIT_MIN, WAIT_MAX = SAGEMAKER_DEPLOYMENT_WAIT.value
TIMEOUT_MIN, TIMEOUT_MAX = SAGEMAKER_DEPLOYMENT_TIMEOUT.value
# What a step may be, in percent of the variant's instances: (smallest, largest) per stepped strategy.
STEP_PERCENT: dict[str, tuple[int, int]] = {
    "canary": (1, SAGEMAKER_CANARY_SIZE.value),
    "linear": SAGEMAKER_LINEAR_STEP.value,
    "rolling": SAGEMAKER_ROLLING_BATCH.value,
}


class RolloutConfig(StrictModel):
    """How SageMaker moves traffic to a new endpoint configuration, and when it rolls back by itself."""

    strategy: Strategy = Field(
        default="all-at-once",
        description="[real-time, async] all-at-once (blue/green, one shift, then a baking period), canary (a "
                    "first step, bake, then the rest), linear (equal steps, each baked) or rolling (batches of "
                    "instances replaced in place: no second fleet, for large or scarce instances); serverless: "
                    "only all-at-once, SageMaker's own update")
    step_size: int | None = Field(
        default=None, ge=1, le=1000,
        description="[canary, linear, rolling] size of the canary, of each linear step or of each rolling batch, "
                    "in step_unit")
    step_unit: Literal["instances", "percent"] = Field(
        default="instances", description="[canary, linear, rolling] step_size counts instances or percent of "
                                         "the variant's instances")
    wait_interval_seconds: int = Field(
        default=TIME_TO_ALARM_SECONDS, ge=WAIT_MIN, le=WAIT_MAX,
        description="[real-time, async] baking period after each traffic step, while the rollback alarms are "
                    "watched; with auto_rollback at least the time the alarms need to fire")
    termination_wait_seconds: int = Field(
        default=0, ge=WAIT_MIN, le=WAIT_MAX,
        description="[real-time, async; not rolling] how long the old fleet stays after all traffic moved (a "
                    "rollback within it is instant)")
    maximum_execution_timeout_seconds: int | None = Field(
        default=None, ge=TIMEOUT_MIN, le=TIMEOUT_MAX,
        description="[real-time, async] the whole update fails (and rolls back) after this long; unset: "
                    "SageMaker's default")
    rollback_step_size: int | None = Field(
        default=None, ge=1, le=1000,
        description="[rolling] batch size when rolling back, in step_unit; unset: the whole old fleet at once")
    auto_rollback: bool | None = Field(
        default=None,
        description="[real-time, async] roll back when one of the endpoint's own alarms (5xx, model errors, "
                    "latency) fires during a baking period; default: on where SageMaker supports it")

    @model_validator(mode="after")
    def _steps_fit_the_strategy(self) -> RolloutConfig:
        problems = []
        stepped = self.strategy != "all-at-once"
        if stepped and self.step_size is None:
            problems.append(f"step_size: required with strategy {self.strategy!r} "
                            f"({STEP_PERCENT[self.strategy][0]}-{STEP_PERCENT[self.strategy][1]} % of the instances)")
        if not stepped:
            problems += [f"{name}: applies only to strategy 'canary', 'linear' or 'rolling', not to 'all-at-once'; "
                         f"remove it" for name in ("step_size", "step_unit") if name in self.model_fields_set]
        if self.rollback_step_size is not None and self.strategy != "rolling":
            problems.append(f"rollback_step_size: applies only to strategy 'rolling', not to {self.strategy!r}")
        if self.strategy == "rolling" and "termination_wait_seconds" in self.model_fields_set:
            problems.append("termination_wait_seconds: applies only to blue/green strategies (all-at-once, canary, "
                            "linear); a rolling update keeps no old fleet")
        if self.step_unit == "percent" and stepped:
            low, high = STEP_PERCENT[self.strategy]
            if self.step_size is not None and not low <= self.step_size <= high:
                problems.append(f"step_size: {self.strategy} steps are {low}-{high} % of the instances, "
                                f"got {self.step_size}")
            if self.rollback_step_size is not None and self.rollback_step_size > 100:
                problems.append(f"rollback_step_size: at most 100 %, got {self.rollback_step_size}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self, *, mode: str, min_fleet: int, max_fleet: int, shadow: bool) -> list[str]:
        """What the endpoint's mode, fleet (instances autoscaling may reach) and shadow variant rule out."""
        set_fields = sorted(self.model_fields_set - ({"strategy"} if self.strategy == "all-at-once" else set()))
        if mode not in GUARDED_MODES:
            return [f"rollout.{name}: applies only to mode 'real-time' or 'async' (SageMaker deployment guardrails), "
                    f"not to mode {mode!r}; remove it" for name in set_fields]
        problems = []
        if self.strategy == "rolling" and shadow:
            problems.append("rollout.strategy: 'rolling' does not work on an endpoint with a shadow variant (two "
                            "variants); use a blue/green strategy or remove [inference.shadow]")
        if self.strategy != "all-at-once" and self.step_unit == "instances" and self.step_size is not None:
            problems += self._instance_step_problems(min_fleet, max_fleet)
        if self.rolls_back(mode) and self.wait_interval_seconds < TIME_TO_ALARM_SECONDS:
            problems.append(f"rollout.wait_interval_seconds: {self.wait_interval_seconds} s is shorter than the "
                            f"{TIME_TO_ALARM_SECONDS} s the endpoint's alarms need to fire, so auto-rollback could "
                            f"never stop a bad model; use >= {TIME_TO_ALARM_SECONDS} or set auto_rollback = false")
        baking = self.wait_interval_seconds + (0 if self.strategy == "rolling" else self.termination_wait_seconds)
        if self.maximum_execution_timeout_seconds is not None and self.maximum_execution_timeout_seconds <= baking:
            problems.append(f"rollout.maximum_execution_timeout_seconds: {self.maximum_execution_timeout_seconds} s "
                            f"ends the update before its own baking and termination wait ({baking} s)")
        return problems

    def _instance_step_problems(self, min_fleet: int, max_fleet: int) -> list[str]:
        """A step in instances must stay within the strategy's percent range at every fleet size autoscaling
        allows: at most the upper bound of the smallest fleet, at least the lower bound of the largest."""
        low, high = STEP_PERCENT[self.strategy]
        most, least = math.floor(min_fleet * high / 100), math.ceil(max_fleet * low / 100)
        if least <= self.step_size <= most:
            return []
        allowed = (f"{least}-{most} instances" if least <= most
                   else f"no instance count fits every fleet of {min_fleet}-{max_fleet}; use step_unit = \"percent\"")
        return [f"rollout.step_size: {self.strategy} steps are {low}-{high} % of the instances (fleet of "
                f"{min_fleet}-{max_fleet}): allowed {allowed}, got {self.step_size}"]

    def rolls_back(self, mode: str) -> bool:
        """Auto-rollback on the endpoint's alarms: on by default where SageMaker supports it."""
        return mode in GUARDED_MODES and (self.auto_rollback is None or self.auto_rollback)

    def guarded(self, mode: str) -> bool:
        """Whether the endpoint gets a deployment configuration at all (serverless: SageMaker's plain update)."""
        return mode in GUARDED_MODES


class ShadowConfig(StrictModel):
    """A candidate model that receives a copy of live requests; its answers are discarded (compared only in
    metrics, alarms and the dashboard). Promotion: set model_version to this one and remove the section."""

    model_version: str = Field(
        pattern=MODEL_VERSION_PATTERN,
        description="version of the candidate artifact, models/<model_name>/<model_version>/model.tar.gz "
                    "(uploaded like any release)")
    sampling_percentage: int = Field(default=100, ge=1, le=100,
                                     description="percentage of production requests copied to the shadow")
    image_tag: ImageTag | None = Field(default=None,
                                       description="image tag of the candidate; default: inference.image_tag")
    instance_type: str | None = Field(default=None, pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
                                      description="default: inference.instance_type")
    initial_instance_count: int = Field(default=1, ge=1, le=100,
                                        description="instances of the shadow (fixed: autoscaling scales production)")


class DashboardConfig(StrictModel):
    """The environment's CloudWatch dashboard (built from the same alarm definitions as the alarms)."""

    enabled: bool = Field(default=True, description="create the dashboard <project>-<environment>")
    period_seconds: Literal[60, 300] = Field(default=60, description="resolution of the graphs")
    start: str = Field(default="-PT3H", pattern=r"^-P(T\d+[HM]|\d+D)$",
                       description="time range shown when opened, e.g. -PT3H (3 hours), -P1D")
