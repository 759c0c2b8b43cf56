"""ECS task scale-in protection through the container agent's endpoint, so scale-in never stops a busy task.

`PUT ${ECS_AGENT_URI}/task-protection/v1/state` with `{"ProtectionEnabled": true, "ExpiresInMinutes": N}` while
the consumer holds messages, `{"ProtectionEnabled": false}` once it is idle
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html).

This is a plain HTTP call to the agent inside the task, not an AWS API call: the agent then calls ECS's
UpdateTaskProtection with the task role, which is why the task role holds ecs:UpdateTaskProtection on its own
cluster's tasks and why the access gate declares that call (tools/access_check/service_calls.py) instead of
recording it. Protection expires by itself (a task that dies protected does not block scale-in forever); the
consumer renews it while busy. Outside ECS (ECS_AGENT_URI unset: tests, the local loop) it does nothing.
Failures are logged, never fatal: protection guards against an early stop, the visibility timeout against loss.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from logging import Logger

AGENT_URI = "ECS_AGENT_URI"  # injected by the ECS agent into every container of a task
STATE_PATH = "/task-protection/v1/state"
AGENT_TIMEOUT_SECONDS = 3


class TaskProtection:
    """Protected while busy, unprotected when idle; each state change is one PUT to the agent."""

    def __init__(self, agent_uri: str | None, minutes: int, log: Logger) -> None:
        self.url = f"{agent_uri.rstrip('/')}{STATE_PATH}" if agent_uri else None
        self.minutes = minutes
        self.log = log
        self._protected_until = 0.0  # monotonic time the current protection lapses (0: not protected)
        self._lock = threading.Lock()

    @property
    def protected(self) -> bool:
        return self._protected_until > time.monotonic()

    def protect(self) -> None:
        """Protect the task (or renew a protection past half its time), so work in hand is never scaled in."""
        with self._lock:
            if self._protected_until - time.monotonic() > self.minutes * 30:
                return
            if self._put({"ProtectionEnabled": True, "ExpiresInMinutes": self.minutes}):
                self._protected_until = time.monotonic() + self.minutes * 60

    def release(self) -> None:
        """Make the idle task eligible for scale-in again."""
        with self._lock:
            if self._protected_until == 0.0:
                return
            self._protected_until = 0.0
            self._put({"ProtectionEnabled": False})

    def _put(self, state: dict[str, object]) -> bool:
        if self.url is None:
            return True
        request = urllib.request.Request(self.url, data=json.dumps(state).encode(), method="PUT",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=AGENT_TIMEOUT_SECONDS) as response:
                answer = json.loads(response.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as error:
            self.log.warning("task protection not changed", extra={"fields": {"state": state, "error": str(error)}})
            return False
        if "protection" not in answer:  # the agent answers {"failure": ...} or {"error": ...} with a 200 too
            self.log.warning("task protection refused", extra={"fields": {"state": state, "answer": answer}})
            return False
        self.log.info("task protection changed", extra={"fields": {"state": state}})
        return True
