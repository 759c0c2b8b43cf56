"""Streaming S3 input and output with bounded memory.

Input: the lines of one part, a byte range [start, end) of an object. A line belongs to the part in which its
first byte lies (the rule that lets parts be cut at any byte): a part that starts inside a line reads one byte
early and skips to the first newline, and it reads past `end` only to finish the line that started before it.

Output: an object written as a stream. Up to one part (8 MiB) is kept in memory and stored with a single PutObject;
beyond that the object becomes a multipart upload whose parts are uploaded in the background while the next one
fills, so at most two parts are held at once. An upload that never completes stays invisible, and the bucket's
lifecycle rule aborts it after a few days: a crashed or reclaimed task leaves no half-written output.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

CHUNK_BYTES = 1024 * 1024  # how much of the input is read at once
JSON_LINES = "application/jsonlines"


def range_origin(start: int) -> int:
    """Where a part's read begins: one byte early, so a part that starts on a line boundary keeps that line."""
    return start - 1 if start > 0 else 0


def lines_in_range(
    chunks: Iterable[bytes], *, start: int, end: int, max_line: int
) -> Iterator[tuple[int, bytes | None]]:
    """(offset, line) for every line whose first byte lies in [START, END); CHUNKS are the object's bytes from
    range_origin(START). A line longer than MAX_LINE is yielded as (offset, None), without keeping its bytes."""
    skipping = start > 0  # the byte before START: discard up to and including the first newline
    tail, tail_offset = b"", range_origin(start)  # the unfinished line and where it starts
    overlong_at: int | None = None  # start of a line being discarded because it exceeds MAX_LINE
    for chunk in chunks:
        data, data_offset = (tail + chunk if tail else chunk), tail_offset
        position = 0
        while True:
            newline = data.find(b"\n", position)
            if newline < 0:
                break
            line_start = data_offset + position
            if skipping:
                skipping = False
            elif overlong_at is not None:
                if overlong_at >= end:
                    return
                yield overlong_at, None
                overlong_at = None
            elif line_start >= end:
                return
            else:
                yield line_start, (data[position:newline] if newline - position <= max_line else None)
            position = newline + 1
        tail, tail_offset = data[position:], data_offset + position
        if tail and (skipping or overlong_at is not None or len(tail) > max_line):
            if not skipping and overlong_at is None:
                overlong_at = tail_offset
            tail, tail_offset = b"", tail_offset + len(tail)
    if skipping:
        return
    if overlong_at is not None:
        if overlong_at < end:
            yield overlong_at, None
    elif tail and tail_offset < end:
        yield tail_offset, tail  # the last line of the object, without a newline


class ObjectWriter:
    """Writes one object as a stream; `close()` makes it visible, `discard()` drops what was written."""

    def __init__(self, s3: Any, bucket: str, key: str, *, part_bytes: int, content_type: str = JSON_LINES) -> None:
        self.s3, self.bucket, self.key = s3, bucket, key
        self.part_bytes, self.content_type = part_bytes, content_type
        self.bytes_written = 0
        self._pieces: list[bytes] = []
        self._buffered = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._next_part = 1
        self._pending: Future[dict[str, Any]] | None = None
        self._uploader: ThreadPoolExecutor | None = None

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._pieces.append(data)
        self._buffered += len(data)
        self.bytes_written += len(data)
        if self._buffered >= self.part_bytes:
            self._send_part()

    def close(self) -> int:
        """Store what was written (an empty object when nothing was); returns its size in bytes."""
        try:
            if self._upload_id is None:
                self.s3.put_object(
                    Bucket=self.bucket, Key=self.key, Body=b"".join(self._pieces), ContentType=self.content_type
                )
            else:
                if self._buffered:
                    self._send_part()
                self._collect()
                self.s3.complete_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
                )
        finally:
            self._stop()
        self._pieces, self._buffered = [], 0
        return self.bytes_written

    def discard(self) -> None:
        """Forget the object: nothing becomes visible (an incomplete upload is left to the lifecycle rule)."""
        self._pieces, self._buffered = [], 0
        self._stop()

    def _send_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type
            )["UploadId"]
            self._uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload")
        body, number = b"".join(self._pieces), self._next_part
        self._pieces, self._buffered, self._next_part = [], 0, number + 1
        self._collect()  # at most one part in flight: memory stays at two parts
        assert self._uploader is not None
        self._pending = self._uploader.submit(self._upload, number, body)

    def _upload(self, number: int, body: bytes) -> dict[str, Any]:
        answer = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _collect(self) -> None:
        if self._pending is not None:
            self._parts.append(self._pending.result())
            self._pending = None

    def _stop(self) -> None:
        if self._uploader is not None:
            self._uploader.shutdown(wait=True, cancel_futures=True)
            self._uploader = None
        self._pending = None


class LazyObjectWriter(ObjectWriter):
    """An ObjectWriter that creates its object only if something was written (the errors part)."""

    def close(self) -> int:
        if not self.bytes_written:
            self._stop()
            return 0
        return super().close()
