"""The consumer's health signal: a file the receive loop rewrites on every turn, and the check that reads it.

Why a file and not an HTTP endpoint: the consumer has no port (the service takes no inbound traffic), and a
loop that stopped turning (stuck on a call that lost its timeout, a dead thread) is exactly what must make the
task unhealthy. The loop writes the time by which it promises to write again; ECS runs
`python -m queue_worker.health` in the container (the task definition's health check) and replaces the task
when the promise is broken. The file lives on the task's /tmp volume, the one writable path.

usage: python -m queue_worker.health          (in the image, from /opt/program)
       python -m containers.inference.queue_worker.health   (from the repository root)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HEALTH_FILE = "HEALTH_FILE"  # environment variable naming the file, for runs outside a container
DEFAULT_HEALTH_FILE = "/tmp/queue-worker.health"


def health_file() -> Path:
    return Path(os.environ.get(HEALTH_FILE) or DEFAULT_HEALTH_FILE)


def beat(path: Path, next_beat_within: float) -> None:
    """Promise the next beat within NEXT_BEAT_WITHIN seconds (written atomically: the check never reads half)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps({"pid": os.getpid(), "beat_by": time.time() + next_beat_within}))
    temporary.replace(path)


def problem(path: Path, now: float | None = None) -> str | None:
    """Why the consumer is unhealthy, or None when its last promise still holds."""
    try:
        promise = json.loads(path.read_text())
        beat_by = float(promise["beat_by"])
    except FileNotFoundError:
        return f"no heartbeat file at {path}: the consumer has not started its loop"
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"unreadable heartbeat file {path}: {error}"
    late = (time.time() if now is None else now) - beat_by
    return f"the receive loop is {late:.0f} s late (last promise in {path})" if late > 0 else None


def main() -> int:
    reason = problem(health_file())
    if reason:
        print(f"unhealthy: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
