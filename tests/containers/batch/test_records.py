"""JSON Lines records of the batch mode: what is a record, what is a bad one, and the prediction lines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_iris

from containers.inference.batch.records import Scorer, parse_lines, source_of

KEY = "batch-inputs/x/a.jsonl"


def parsed(*raw: bytes | None, max_record_bytes: int = 1024):
    offsets = range(0, 1000 * len(raw), 1000)
    return parse_lines(list(zip(offsets, raw, strict=False)), key=KEY, n_features=4, max_record_bytes=max_record_bytes)


def test_objects_and_bare_lists_are_records_and_blank_lines_are_nothing() -> None:
    batch = parsed(
        b'{"id": "a", "features": [1, 2, 3, 4]}', b"[5.5, 6, 7, 8]", b"   ", b'{"id": 7, "features": [0, 0, 0, 0]}'
    )

    assert batch.rows == [[1, 2, 3, 4], [5.5, 6, 7, 8], [0, 0, 0, 0]]
    assert [json.loads(record_id) for record_id in batch.ids] == ["a", source_of(KEY, 1000), 7]
    assert batch.errors == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"id": "a", "features": [1, 2, 3]', "not JSON"),
        (b'{"id": "a"} {"id": "b"}', "extra data"),
        (b'"just text"', "not str"),
        (b'{"id": "a", "features": [1, 2, 3]}', "has 3 values; expected 4"),
        (b'{"id": "a", "features": [1, 2, "3", 4]}', "features[2] is str"),
        (b'{"id": "a", "features": [1, true, 3, 4]}', "features[1] is bool"),
        (b'{"id": "a", "features": [1, NaN, 3, 4]}', "NaN is not a number"),
        (b'{"id": "a", "features": [1, 1e999, 3, 4]}', "not a finite number"),
        (b'{"id": ["a"], "features": [1, 2, 3, 4]}', "id must be a string or an integer"),
        (b'{"id": "a", "features": [1, 2, 3, 4]}\xff', "not UTF-8"),
        (None, "longer than 1024 bytes"),
    ],
    ids=lambda item: item if isinstance(item, str) else None,
)
def test_a_bad_record_becomes_an_error_line_with_its_place_and_reason(raw: bytes | None, reason: str) -> None:
    batch = parsed(b"[1, 2, 3, 4]", raw)

    assert batch.rows == [[1, 2, 3, 4]]
    [error] = [json.loads(line) for line in batch.errors]
    assert reason in error["error"] and error["source"] == source_of(KEY, 1000)


def test_an_error_line_keeps_the_id_of_a_record_whose_features_are_bad() -> None:
    batch = parsed(b'{"id": "r-9", "features": [1]}')

    assert json.loads(batch.errors[0])["id"] == "r-9"


def test_the_scorer_gives_the_model_servers_label_and_rounded_probabilities_for_every_row(model) -> None:
    rows = load_iris().data.tolist()
    scorer = Scorer(model)

    lines = scorer.lines([json.dumps(f"r-{n}") for n in range(len(rows))], rows).splitlines()

    expected = model.predict(np.asarray(rows))
    assert [json.loads(line) for line in lines] == [
        {"id": f"r-{n}", **prediction} for n, prediction in enumerate(expected)
    ]


def test_no_rows_make_no_lines_and_no_model_call(model) -> None:
    assert Scorer(model).lines([], []) == ""
