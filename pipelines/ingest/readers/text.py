"""CSV and text files: the encoding detected, every record accounted for (`csv_records`),
every cell read as text."""

from __future__ import annotations

import io
from array import array

import numpy as np
import polars as pl

from pipelines.ingest.readers.csv_records import one_line_ending, read_records
from pipelines.ingest.readers.table import RawTable, UnreadableFile


def decode_text(data: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (with or without BOM), else GB18030 (a superset of GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not UTF-8 and not GB18030/GBK text (undecodable byte at offset {exc.start})"
        ) from exc


def read_csv(data: bytes) -> RawTable:
    text, encoding = decode_text(data)
    # UTF-8 bytes are read as they are (decoding checked them); others are re-encoded.
    utf8 = {"utf-8": data, "utf-8-sig": data[3:]}.get(encoding) or text.encode("utf-8")
    frame, malformed = read_records(one_line_ending(utf8))
    return RawTable(frame, "csv", encoding, malformed)


def lines_after_header(data: bytes) -> pl.Series:
    """The numbers of the non-blank lines after the first non-blank one: of a text file that
    cannot be read at all, these count as read (and quarantined)."""
    numbers = array("q")
    header_seen = False
    for number, line in enumerate(io.BytesIO(one_line_ending(data)), start=1):
        if line.strip():
            if header_seen:
                numbers.append(number)
            header_seen = True
    return pl.Series("row_number", np.frombuffer(numbers, np.int64), dtype=pl.Int64)
