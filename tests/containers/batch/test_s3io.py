"""Streaming input by byte range and streaming output, with bounded memory."""

from __future__ import annotations

import uuid

import pytest

from containers.inference.batch.s3io import LazyObjectWriter, ObjectWriter, lines_in_range, range_origin

MIB = 1024 * 1024


@pytest.fixture
def prefix() -> str:
    """A batch's output prefix (results/batches/<id>/), as the job writes under it."""
    return f"results/batches/{uuid.uuid4()}/"


TEXT = b"alpha\nbravo\n\ncharlie-long-line\ndelta\necho"  # the last line has no newline


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def read(data: bytes, start: int, end: int, *, chunk: int = 3, max_line: int = 100) -> list[tuple[int, bytes | None]]:
    return list(lines_in_range(chunks(data[range_origin(start) :], chunk), start=start, end=end, max_line=max_line))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
@pytest.mark.parametrize("cut", [1, 5, 6, 7, 12, 13, 20, 31, 35])
def test_two_parts_cut_anywhere_keep_every_line_once_with_its_offset(chunk: int, cut: int) -> None:
    whole = read(TEXT, 0, len(TEXT), chunk=chunk)

    assert read(TEXT, 0, cut, chunk=chunk) + read(TEXT, cut, len(TEXT), chunk=chunk) == whole
    assert [line for _, line in whole] == TEXT.split(b"\n")
    assert all(TEXT[offset:].startswith(line) for offset, line in whole)


def test_a_line_longer_than_the_limit_is_reported_by_its_offset_without_its_bytes() -> None:
    assert read(TEXT, 0, len(TEXT), max_line=8) == [
        (0, b"alpha"),
        (6, b"bravo"),
        (12, b""),
        (13, None),
        (31, b"delta"),
        (37, b"echo"),
    ]


def test_an_overlong_line_is_skipped_across_many_chunks() -> None:
    data = b"a\n" + b"x" * 10_000 + b"\nb\n"

    assert read(data, 0, len(data), chunk=16, max_line=64) == [(0, b"a"), (2, None), (10_003, b"b")]


def test_a_part_that_starts_inside_a_long_line_skips_it_however_long() -> None:
    data = b"x" * 10_000 + b"\nb\n"

    assert read(data, 5, len(data), chunk=16, max_line=64) == [(10_001, b"b")]


def test_a_small_object_is_one_put_and_an_empty_one_still_exists(store, prefix: str) -> None:
    small = ObjectWriter(store.s3, store.bucket, f"{prefix}part-00000.jsonl", part_bytes=5 * MIB)
    small.write(b"one\n")
    small.write(b"two\n")
    empty = ObjectWriter(store.s3, store.bucket, f"{prefix}part-00001.jsonl", part_bytes=5 * MIB)

    assert (small.close(), empty.close()) == (8, 0)
    assert store.text(f"{prefix}part-00000.jsonl") == "one\ntwo\n"
    assert store.text(f"{prefix}part-00001.jsonl") == ""


def test_a_large_object_streams_through_a_multipart_upload_in_order(store, prefix: str) -> None:
    writer = ObjectWriter(store.s3, store.bucket, f"{prefix}part-00002.jsonl", part_bytes=5 * MIB)
    blocks = [bytes([65 + n]) * MIB for n in range(12)]  # 12 MiB: two full parts and a last one
    for block in blocks:
        writer.write(block)

    size = writer.close()

    head = store.s3.head_object(Bucket=store.bucket, Key=f"{prefix}part-00002.jsonl")
    assert size == head["ContentLength"] == 12 * MIB
    assert head["ETag"].strip('"').endswith("-3"), "a multipart upload of three parts"
    body = store.s3.get_object(Bucket=store.bucket, Key=f"{prefix}part-00002.jsonl")["Body"].read()
    assert body == b"".join(blocks)


def test_a_discarded_writer_leaves_no_object(store, prefix: str) -> None:
    writer = ObjectWriter(store.s3, store.bucket, f"{prefix}part-00003.jsonl", part_bytes=5 * MIB)
    writer.write(b"z" * (6 * MIB))

    writer.discard()

    assert store.keys(prefix) == []


def test_the_errors_writer_creates_nothing_when_nothing_was_written(store, prefix: str) -> None:
    assert LazyObjectWriter(store.s3, store.bucket, f"{prefix}part-00000.errors.jsonl", part_bytes=5 * MIB).close() == 0
    assert store.keys(prefix) == []
