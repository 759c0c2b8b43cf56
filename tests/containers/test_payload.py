"""Request parsing: every malformed body is a 4xx that names the problem."""

from __future__ import annotations

import pytest

from containers.inference.server.payload import PayloadError, parse_instances

ROW = [5.1, 3.5, 1.4, 0.2]


def parse(body: bytes | str, content_type: str = "application/json", max_batch_size: int = 10):
    raw = body.encode() if isinstance(body, str) else body
    return parse_instances(raw, content_type, n_features=4, max_batch_size=max_batch_size)


def test_a_json_batch_becomes_a_rows_by_features_array() -> None:
    rows = parse('{"instances": [[5.1, 3.5, 1.4, 0.2], [6, 3, 5, 2]]}')

    assert rows.shape == (2, 4)
    assert rows[1].tolist() == [6.0, 3.0, 5.0, 2.0]


def test_csv_rows_are_accepted_and_blank_lines_ignored() -> None:
    rows = parse("5.1,3.5,1.4,0.2\n\n6,3,5,2\n", "text/csv; charset=utf-8")

    assert rows.shape == (2, 4)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "expected_words"),
    [
        ('{"instances": [[1,2,3,4]', "application/json", 400, "malformed JSON"),
        ('{"instances": [[NaN, 1, 2, 3]]}', "application/json", 400, "NaN"),
        ('{"rows": [[1,2,3,4]]}', "application/json", 400, '"instances"'),
        ('{"instances": {"a": 1}}', "application/json", 400, "must be a list"),
        ('{"instances": []}', "application/json", 400, "empty"),
        (
            '{"instances": [[1,2,3,4], [1,2,3]]}',
            "application/json",
            400,
            "instances[1] has 3 features",
        ),
        (
            '{"instances": [[1,2,"x",4]]}',
            "application/json",
            400,
            "instances[0][2] is str",
        ),
        (
            '{"instances": [[1,2,true,4]]}',
            "application/json",
            400,
            "instances[0][2] is bool",
        ),
        (
            '{"instances": [[1,2,1e400,4]]}',
            "application/json",
            400,
            "not a finite number",
        ),
        ('{"instances": [5]}', "application/json", 400, "instances[0] must be a list"),
        ("1,2,3,4\n1,2,x,4\n", "text/csv", 400, "CSV line 2"),
        ("1,2,3,nan\n", "text/csv", 400, "not a finite number"),
        ("", "application/json", 400, "empty"),
        ("[" * 100_000, "application/json", 400, "malformed JSON"),
        ("<xml/>", "application/xml", 415, "application/xml"),
        ("1,2,3,4", "", 415, "(none)"),
    ],
)
def test_bad_input_is_a_client_error_naming_the_problem(
    body: str, content_type: str, status: int, expected_words: str
) -> None:
    with pytest.raises(PayloadError) as raised:
        parse(body, content_type)

    assert raised.value.status == status
    assert expected_words in raised.value.message


def test_the_index_of_the_offending_instance_is_reported() -> None:
    with pytest.raises(PayloadError) as raised:
        parse('{"instances": [[1,2,3,4], [1,2,3,4], [1,2]]}')

    assert raised.value.details == {"index": 2}


def test_a_batch_over_the_limit_is_refused_with_the_limit_named() -> None:
    with pytest.raises(PayloadError) as raised:
        parse('{"instances": ' + str([ROW] * 11) + "}", max_batch_size=10)

    assert raised.value.status == 400
    assert "limit of 10" in raised.value.message


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(PayloadError) as raised:
        parse(b'{"instances": "\xff"}')

    assert raised.value.status == 400
    assert "UTF-8" in raised.value.message
