"""An SQS event source mapping that reports partial batch failures, so one bad message never redelivers a batch.

It also refuses a queue whose visibility timeout is under six times the function's timeout (AWS's own guidance):
otherwise a message still being processed reappears and is processed twice while retries are counted wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from modules import aws
from modules.limits import SQS_EVENT_SOURCE_MAX_CONCURRENCY, SQS_VISIBILITY_TIMEOUT_FACTOR

VISIBILITY_TIMEOUT_FACTOR = SQS_VISIBILITY_TIMEOUT_FACTOR.value  # AWS's advice (modules/limits.py)
BATCH_SIZE = (1, 10000)
BATCHING_WINDOW_SECONDS = (0, 300)
MAXIMUM_CONCURRENCY = SQS_EVENT_SOURCE_MAX_CONCURRENCY.value  # what Lambda accepts for SQS scaling_config


@dataclass(frozen=True, kw_only=True)
class SqsEventSourceProps:
    """Which queue feeds which function, and how many messages at a time."""

    queue_name: str  # for error messages
    queue_arn: str
    queue_visibility_timeout_seconds: int  # the queue's configured visibility timeout
    function_name: str  # name or ARN of the consuming function
    function_timeout_seconds: int  # the consuming function's timeout
    batch_size: int  # 1-10000; above 10 needs a batching window of at least 1 s
    batching_window_seconds: int  # 0-300: wait to fill a batch
    maximum_concurrency: int | None = None  # 2-1000 concurrent invocations from this queue; None: unlimited
    depends_on: tuple[Any, ...] = ()  # e.g. the function's role policy: Lambda checks the grants at creation


class SqsEventSource(Construct):
    """Exposes `mapping`."""

    def __init__(self, scope: Construct, id_: str, *, props: SqsEventSourceProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        scaling = None
        if props.maximum_concurrency is not None:
            scaling = aws.lambda_event_source_mapping.LambdaEventSourceMappingScalingConfig(
                maximum_concurrency=props.maximum_concurrency
            )
        self.mapping = aws.lambda_event_source_mapping.LambdaEventSourceMapping(
            self,
            "mapping",
            event_source_arn=props.queue_arn,
            function_name=props.function_name,
            batch_size=props.batch_size,
            maximum_batching_window_in_seconds=props.batching_window_seconds,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=scaling,
            depends_on=list(props.depends_on) or None,
        )


def _validate(id_: str, props: SqsEventSourceProps) -> None:
    problems = []
    needed = VISIBILITY_TIMEOUT_FACTOR * props.function_timeout_seconds
    if props.queue_visibility_timeout_seconds < needed:
        problems.append(
            f"queue {props.queue_name!r} has visibility timeout {props.queue_visibility_timeout_seconds} s, under "
            f"{VISIBILITY_TIMEOUT_FACTOR} x the timeout of function {props.function_name!r} "
            f"({props.function_timeout_seconds} s) = {needed} s: raise the queue's visibility timeout to at least "
            f"{needed} s or lower the function's timeout"
        )
    for name, (low, high) in (("batch_size", BATCH_SIZE), ("batching_window_seconds", BATCHING_WINDOW_SECONDS)):
        value = getattr(props, name)
        if not low <= value <= high:
            problems.append(f"{name} must be {low}-{high}, got {value}")
    if props.batch_size > 10 and props.batching_window_seconds < 1:
        problems.append(f"batch_size {props.batch_size} (> 10) needs batching_window_seconds >= 1")
    if (
        props.maximum_concurrency is not None
        and not MAXIMUM_CONCURRENCY[0] <= props.maximum_concurrency <= MAXIMUM_CONCURRENCY[1]
    ):
        problems.append(
            f"maximum_concurrency must be {MAXIMUM_CONCURRENCY[0]}-{MAXIMUM_CONCURRENCY[1]}, "
            f"got {props.maximum_concurrency}"
        )
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
