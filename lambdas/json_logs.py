"""JSON log lines of the Lambda functions and the queue worker: one object per line on stdout, at LOG_LEVEL.

Why its own module: metric filters and Logs Insights queries match on these field names, and the infrastructure
imports `lambdas.contract` (names both sides share) without pulling in logging code.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from lambdas.contract import LOG_LEVEL

# --- log lines: metric filters and Logs Insights queries match on these field names -----------


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: `level`, `logger`, `message`, plus the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return self.encode(line)

    def encode(self, line: dict[str, Any]) -> str:
        """The line as JSON text (the model server's formatter encodes with orjson: see its json_logging)."""
        return json.dumps(line, default=str)


class _CurrentStdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at emit time, so redirected output (tests) is honoured."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def json_logger(name: str) -> logging.Logger:
    """A logger that writes JSON lines to stdout at LOG_LEVEL, without duplicating into the root logger.

    Log with `logger.info("job completed", extra={"fields": {"job_id": job_id}})`.
    """
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = _CurrentStdoutHandler()
        handler.setFormatter(JsonLineFormatter())
        logger.addHandler(handler)
        # The Lambda runtime puts a plain-text handler on the root logger; don't print twice.
        logger.propagate = False
    level = os.environ.get(LOG_LEVEL, "INFO").upper()
    logger.setLevel(level if level in logging.getLevelNamesMapping() else logging.INFO)
    return logger
