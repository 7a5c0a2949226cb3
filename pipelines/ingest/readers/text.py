"""CSV and text files: the encoding detected, every cell read as text."""

from __future__ import annotations

import io

import polars as pl

from pipelines.ingest.readers.table import RawTable, UnreadableFile, with_row_numbers


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
    try:
        frame = pl.read_csv(io.BytesIO(utf8), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise UnreadableFile(f"malformed CSV: {str(exc).splitlines()[0]}") from exc
    return RawTable(with_row_numbers(frame), "csv", encoding)
