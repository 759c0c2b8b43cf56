"""Turn an /invocations request body into a validated (rows x features) float array.

Every rejection is a PayloadError carrying the HTTP status and a message that names the problem
(and the offending instance index), so bad input is always a 4xx and never a crash.

Well-formed bodies take a fast path (orjson, then checks over whole rows in C); anything it does not
accept goes down the original, slower path, which finds the exact problem and words the message.
Both paths accept and refuse the same bodies.
"""

from __future__ import annotations

import csv
import io
import json
import math
from itertools import chain
from typing import Any

import numpy as np
import orjson

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
# SageMaker Batch Transform's line-split JSON: one record per line (a feature list, or an object with "features").
# Bounded by the body size alone, not MAX_BATCH_SIZE: Transform packs as many lines as fit MaxPayloadInMB, which
# /execution-parameters derives from MAX_PAYLOAD_BYTES, so any body it sends must be accepted.
JSON_LINES_TYPE = "application/jsonlines"
SUPPORTED_TYPES = (JSON_TYPE, CSV_TYPE, JSON_LINES_TYPE)


class PayloadError(Exception):
    """A client error: `status` is the HTTP status, `details` extra JSON fields such as the index."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def media_type(content_type: str) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return content_type.split(";", 1)[0].strip().lower()


def parse_instances(body: bytes, content_type: str, *, n_features: int, max_batch_size: int) -> np.ndarray:
    """Decode the body by content type and check shape, type and size of the batch."""
    kind = media_type(content_type)
    if kind not in SUPPORTED_TYPES:
        raise PayloadError(
            415,
            f"unsupported content type {kind or '(none)'!r}; send one of {', '.join(SUPPORTED_TYPES)}",
        )
    if not body.strip():
        raise PayloadError(400, "request body is empty")
    if kind == JSON_LINES_TYPE:
        return _validated(_json_lines_rows(_utf8(body)), n_features=n_features, max_batch_size=None, label="lines")
    if kind == JSON_TYPE:
        try:
            # orjson reads the bytes directly, about 5x faster than json; it refuses NaN and Infinity too.
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = _json_document(_utf8(body))  # raises the precise 400 (or parses what orjson refused)
        rows = _instances(document)
    else:
        rows = _csv_rows(_utf8(body))
    return _validated(rows, n_features=n_features, max_batch_size=max_batch_size)


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(400, f"request body is not UTF-8: {error.reason} at byte {error.start}") from error


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid number")


def _json_document(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise PayloadError(
            400,
            f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}",
        ) from error
    except ValueError as error:  # NaN / Infinity literals
        raise PayloadError(400, f"malformed JSON: {error}") from error
    except RecursionError as error:
        raise PayloadError(400, "malformed JSON: nested too deeply") from error


def _instances(document: Any) -> list[Any]:
    if not isinstance(document, dict) or "instances" not in document:
        raise PayloadError(400, 'expected a JSON object with an "instances" list')
    instances = document["instances"]
    if not isinstance(instances, list):
        raise PayloadError(400, '"instances" must be a list of feature lists')
    return instances


def _json_lines_rows(text: str) -> list[Any]:
    """One row per non-blank line: `[5.1, 3.5, 1.4, 0.2]` or `{"features": [...], ...}` (other keys ignored)."""
    rows: list[Any] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as error:
            raise PayloadError(
                400, f"JSON Lines line {line_number}: malformed JSON ({error})", index=len(rows)
            ) from error
        rows.append(record.get("features") if isinstance(record, dict) else record)
    return rows


def _csv_rows(text: str) -> list[Any]:
    rows: list[Any] = []
    for line_number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            rows.append([float(cell) for cell in row])
        except ValueError as error:
            raise PayloadError(400, f"CSV line {line_number}: {error}", index=len(rows)) from error
    return rows


def _is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _validated(rows: list[Any], *, n_features: int, max_batch_size: int | None, label: str = "instances") -> np.ndarray:
    if 0 < len(rows) <= (max_batch_size or len(rows)) and _plain_numeric_rows(rows, n_features):
        try:
            array = np.array(rows, dtype=np.float64)
        except OverflowError:  # an integer beyond float range: the slow path names it
            array = None
        if array is not None and np.isfinite(array).all():
            return array
    return _validated_row_by_row(rows, n_features=n_features, max_batch_size=max_batch_size, label=label)


_NUMBER_TYPES = frozenset((float, int))


def _plain_numeric_rows(rows: list[Any], n_features: int) -> bool:
    """Every row a list of exactly n_features ints or floats; bool is its own type here, so it fails."""
    return (
        set(map(type, rows)) == {list}
        and set(map(len, rows)) == {n_features}
        and set(map(type, chain.from_iterable(rows))) <= _NUMBER_TYPES
    )


def _validated_row_by_row(rows: list[Any], *, n_features: int, max_batch_size: int | None, label: str) -> np.ndarray:
    if not rows:
        raise PayloadError(400, f"{label} is empty; send at least one row")
    if max_batch_size is not None and len(rows) > max_batch_size:
        raise PayloadError(400, f"batch of {len(rows)} instances exceeds the limit of {max_batch_size}")
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            raise PayloadError(
                400,
                f"{label}[{index}] must be a list of {n_features} numbers",
                index=index,
            )
        if len(row) != n_features:
            raise PayloadError(
                400,
                f"{label}[{index}] has {len(row)} features; expected {n_features}",
                index=index,
            )
        for position, value in enumerate(row):
            # bool is an int subclass, but true/false as a measurement is a client bug.
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PayloadError(
                    400,
                    f"{label}[{index}][{position}] is {type(value).__name__}, not a number",
                    index=index,
                )
            if not _is_finite(value):
                raise PayloadError(
                    400,
                    f"{label}[{index}][{position}] is {value}, not a finite number",
                    index=index,
                )
    return np.asarray(rows, dtype=np.float64)
