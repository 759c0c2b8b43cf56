"""How much time an invocation has left, so every model call is budgeted from it instead of from a constant.

Why: a call that outlives its invocation is the worst failure of all. A queue-driven worker that times out
returns its whole batch, finished jobs included, and every record pays a receive towards the dead-letter
queue. A `predict` that outlives API Gateway's integration timeout never gets to say why. With a deadline
passed down, the handler decides in time: it stops starting jobs, or answers 504 itself.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock (None: no deadline, e.g. a test or a long-running container)."""

    at: float | None = None

    @classmethod
    def from_context(cls, context: Any, reserve_seconds: float = 0.0) -> Deadline:
        """The end of a Lambda invocation less RESERVE_SECONDS; no deadline when there is no Lambda context."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return cls()
        return cls(time.monotonic() + remaining() / 1000 - reserve_seconds)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def reserve(self, seconds: float) -> Deadline:
        """The deadline SECONDS earlier, for a step that must leave time for what follows it."""
        return self if self.at is None else Deadline(self.at - seconds)

    def remaining(self) -> float:
        """Seconds left (may be negative once passed); infinity without a deadline."""
        return math.inf if self.at is None else self.at - time.monotonic()


NO_DEADLINE = Deadline()
