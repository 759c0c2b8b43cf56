"""JSON-lines logging for the server and for gunicorn's own error and access logs.

CloudWatch Logs Insights and metric filters read fields, not prose, so every line is one object.
gunicorn logs each request as `access_log.info(format, atoms)`; the formatter turns those atoms
into named fields instead of an Apache-style string.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

ACCESS_LOGGER = "gunicorn.access"


class JsonLineFormatter(logging.Formatter):
    """`time`, `level`, `logger`, `message`, the record's `fields`, and request fields for access logs."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
        }
        if record.name == ACCESS_LOGGER and isinstance(record.args, Mapping):
            line["message"] = "request"
            line.update(_access_fields(record.args))
        else:
            line["message"] = record.getMessage()
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # One line per request: orjson keeps the access log a small share of a request's cost.
        return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """Pick the request facts worth querying from gunicorn's access-log atoms."""

    def text(key: str) -> Any:
        # gunicorn pre-escapes quotes for its Apache format; the JSON encoder escapes them again itself.
        value = atoms.get(key)
        return value.replace('\\"', '"') if isinstance(value, str) else value

    status = str(atoms.get("s", "-"))
    return {
        "remote_addr": text("h"),
        "method": text("m"),
        "path": text("U"),
        "status": int(status) if status.isdigit() else status,
        "response_bytes": atoms.get("B"),
        "duration_ms": atoms.get("M"),
        "user_agent": text("a"),
        # ALB and SageMaker both forward a trace id; it joins these lines to the caller's.
        "trace_id": text("{x-amzn-trace-id}i"),
    }
