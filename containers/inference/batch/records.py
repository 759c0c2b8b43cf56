"""JSON Lines records in, JSON Lines predictions and errors out, a batch of lines at a time.

An input line is one record, either `{"id": "r-1", "features": [5.1, 3.5, 1.4, 0.2]}` or a bare feature list
`[5.1, 3.5, 1.4, 0.2]`. A record without an id is named by where it is: `<object key>@<byte offset>`. Blank lines
are skipped. Anything else is a bad record: it becomes one line of the errors part, with its id (when it had one),
its place and the reason, and never stops the job.

Why a scanner per line rather than one `json.loads` over the joined lines: joining is no faster here, and lines
that are not whole JSON values (`[1, 2], [3` then `4]`) could merge into values that belong to no single line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Ids stay what the client sent; only these JSON types identify a record unambiguously.
ID_TYPES = (str, int)
NUMBER_TYPES = frozenset({int, float})
_ENCODE_STRING = json.encoder.encode_basestring_ascii  # what json.dumps uses for a str (ensure_ascii)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


_SCAN = json.JSONDecoder(parse_constant=_reject_constant).scan_once


class BadRecord(Exception):
    """Why one line is not a record; the message becomes the `error` of its line in the errors part."""


@dataclass
class ParsedBatch:
    """The valid records of a batch of lines (ids as JSON text, their feature matrix) and the error lines of the rest."""

    ids: list[str] = field(default_factory=list)  # each already encoded as JSON
    rows: list[list[float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # complete JSON lines, newline included
    matrix: np.ndarray | None = None  # rows as float64, once every one of them is known to be finite

    def add_error(self, source: str, reason: str, record_id: Any = None) -> None:
        self.errors.append(json.dumps({"id": record_id, "source": source, "error": reason}) + "\n")


def source_of(key: str, offset: int) -> str:
    """Where a line starts: the default id of a record without one, and the `source` of an error line."""
    return f"{key}@{offset}"


def _json_id(record_id: Any) -> str:
    """What json.dumps gives for an id (a string or an integer), by the encoder's own C routine."""
    return _ENCODE_STRING(record_id) if type(record_id) is str else str(record_id)


def parse_lines(
    lines: Sequence[tuple[int, bytes | None]], *, key: str, n_features: int, max_record_bytes: int
) -> ParsedBatch:
    """LINES are (byte offset, raw line) pairs; a None line was longer than MAX_RECORD_BYTES and not kept."""
    parsed = ParsedBatch()
    kept: list[tuple[int, Any]] = []  # offset and id as sent, of each kept row: to name one that is not finite
    for offset, raw in lines:
        if raw is None:
            parsed.add_error(
                source_of(key, offset), f"line longer than {max_record_bytes} bytes (batch.max_record_bytes)"
            )
            continue
        try:
            text = raw.decode("utf-8").strip()
            if not text:
                continue  # blank lines separate nothing and are no records
            record_id, row = _record(text, n_features)
        except UnicodeDecodeError as error:
            parsed.add_error(source_of(key, offset), f"not UTF-8: {error.reason} at byte {error.start}")
        except _BadRecordWithId as problem:
            parsed.add_error(source_of(key, offset), str(problem), problem.record_id)
        except BadRecord as problem:
            parsed.add_error(source_of(key, offset), str(problem))
        else:
            parsed.ids.append(_json_id(source_of(key, offset) if record_id is None else record_id))
            parsed.rows.append(row)
            kept.append((offset, record_id))
    _finite_rows(parsed, kept, key, n_features)
    return parsed


def _finite_rows(parsed: ParsedBatch, kept: list[tuple[int, Any]], key: str, n_features: int) -> None:
    """The matrix of the rows, checked in one pass; the rare row with NaN, an infinity or an integer beyond a
    float's range (JSON allows 1e999 and 10**400) moves to the errors."""
    try:
        matrix = np.asarray(parsed.rows, dtype=np.float64).reshape(len(parsed.rows), n_features)
        finite = np.isfinite(matrix).all(axis=1)
    except OverflowError:
        matrix, finite = None, np.asarray([all(map(_finite, row)) for row in parsed.rows], dtype=bool)
    if matrix is not None and finite.all():
        parsed.matrix = matrix
        return
    ids, rows = [], []
    for record_id, row, (offset, sent_id), ok in zip(parsed.ids, parsed.rows, kept, finite.tolist(), strict=True):
        if ok:
            ids.append(record_id)
            rows.append(row)
            continue
        position = next(i for i, value in enumerate(row) if not _finite(value))
        parsed.add_error(
            source_of(key, offset), f"features[{position}] is {row[position]}, not a finite number", sent_id
        )
    parsed.ids, parsed.rows = ids, rows
    parsed.matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), n_features)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


class _BadRecordWithId(BadRecord):
    def __init__(self, message: str, record_id: Any) -> None:
        super().__init__(message)
        self.record_id = record_id


def _record(text: str, n_features: int) -> tuple[Any, list[float]]:
    try:
        value, end = _SCAN(text, 0)
    except StopIteration as error:
        raise BadRecord(f"not JSON: nothing decodable at column {error.value + 1}") from None
    except json.JSONDecodeError as error:
        raise BadRecord(f"not JSON: {error.msg} at column {error.colno}") from None
    except (ValueError, RecursionError) as error:
        raise BadRecord(f"not JSON: {error}") from None
    if end != len(text):
        raise BadRecord(f"not one JSON value: extra data at column {end + 1}")
    if type(value) is list:
        return None, _features(value, n_features, "the record")
    if type(value) is not dict:
        raise BadRecord(
            f'a record is an object with "features" or a list of {n_features} numbers, not {type(value).__name__}'
        )
    record_id = value.get("id")
    if record_id is not None and (type(record_id) not in ID_TYPES):
        raise BadRecord(f"id must be a string or an integer, not {type(record_id).__name__}")
    try:
        return record_id, _features(value.get("features"), n_features, "features")
    except BadRecord as problem:
        raise _BadRecordWithId(str(problem), record_id) from None


def _features(values: Any, n_features: int, what: str) -> list[float]:
    """The feature list when its values are JSON numbers (finiteness is checked per batch, by numpy)."""
    if type(values) is not list:
        raise BadRecord(f"{what} must be a list of {n_features} numbers")
    if len(values) != n_features:
        raise BadRecord(f"{what} has {len(values)} values; expected {n_features}")
    if not NUMBER_TYPES.issuperset(map(type, values)):
        # bool is an int subclass, but true/false as a measurement is a client bug: type() keeps them apart.
        position, kind = next((i, type(v)) for i, v in enumerate(values) if type(v) not in NUMBER_TYPES)
        raise BadRecord(f"{what}[{position}] is {kind.__name__}, not a number")
    return values


class Scorer:
    """A loaded model (server.model.LoadedModel: estimator, classes, feature names, version) scoring whole
    batches: one predict_proba call per batch, and the output lines formatted from the probability matrix."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.n_features = len(model.feature_names)
        self.version = model.version
        # The same numbers as the model server's `predictions`: the label and every probability rounded to 6.
        labels = [json.dumps(str(label)) for label in model.classes]
        self._labels = labels
        self._template = '{"id":%s,"label":%s,"probabilities":{' + ",".join(f"{label}:%r" for label in labels) + "}}\n"

    def lines(self, ids: Sequence[str], matrix: np.ndarray | Sequence[Sequence[float]]) -> str:
        """The prediction lines of the rows of MATRIX (ids already JSON), in order."""
        if not len(ids):
            return ""
        probabilities = self.model.estimator.predict_proba(np.asarray(matrix, dtype=np.float64))
        best = np.argmax(probabilities, axis=1).tolist()
        rounded = np.round(probabilities, 6).tolist()
        template, labels = self._template, self._labels
        return "".join(
            [
                template % (record_id, labels[label], *values)
                for record_id, label, values in zip(ids, best, rounded, strict=True)
            ]
        )
