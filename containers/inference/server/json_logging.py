"""JSON-lines logging for the server and for gunicorn's own error and access logs.

CloudWatch Logs Insights and metric filters read fields, not prose, so every line is one object.
`AccessLogger` (gunicorn's `logger_class`) logs each request with named fields instead of gunicorn's
Apache-style atoms, and `JsonLineFormatter` writes every record, those fields included, as one line.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from gunicorn import glogging

from lambdas import json_logs as lambdas_json_logs

ACCESS_LOGGER = "gunicorn.access"


class JsonLineFormatter(lambdas_json_logs.JsonLineFormatter):
    """The functions' and the queue worker's line (lambdas/json_logs.py, shipped in the image), encoded by orjson:
    one line per request, so the access log stays a small share of a request's cost."""

    def encode(self, line: dict[str, Any]) -> str:
        return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class AccessLogger(glogging.Logger):
    """gunicorn's logger, with an access log of the request facts worth querying.

    gunicorn's own `access` builds some thirty Apache atoms, escapes them, and lets `logging` look up the calling
    frame: measured, a quarter of the server's own time per request. This builds the eight fields we write.
    """

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled or not self.access_log.isEnabledFor(logging.INFO):
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        fields = {
            "remote_addr": environ.get("REMOTE_ADDR", "-"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status) if str(status).isdigit() else status,
            "response_bytes": getattr(resp, "sent", None),
            "duration_ms": request_time.seconds * 1000 + request_time.microseconds // 1000,
            "user_agent": environ.get("HTTP_USER_AGENT", "-"),
            # ALB and SageMaker both forward a trace id; it joins these lines to the caller's.
            "trace_id": environ.get("HTTP_X_AMZN_TRACE_ID"),
        }
        record = self.access_log.makeRecord(
            ACCESS_LOGGER, logging.INFO, "", 0, "request", None, None, extra={"fields": fields}
        )
        self.access_log.handle(record)
