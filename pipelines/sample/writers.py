"""Delivery files written in appendable pieces, byte-identical for the same input.

CSV pieces are appended (header once); Parquet pieces become row groups; XLSX is kept
for small files only and written on close, with a fixed creation date so the bytes
do not depend on the clock.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import xlsxwriter

from pipelines.sample.plan import Delivery

FIXED_CREATED = datetime(2024, 1, 2, 9, 0, 0)


class CsvWriter:
    def __init__(self, path: Path, delivery: Delivery):
        self.path, self.style = path, delivery.style
        self.started = False

    def append(self, frame: pl.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.write_csv(
            buffer,
            include_header=not self.started,
            line_terminator="\r\n" if self.style.crlf else "\n",
        )
        text = buffer.getvalue().decode("utf-8")
        # The byte-order mark starts the file only, not every appended piece.
        encoding = self.style.encoding if not self.started else _without_bom(self.style.encoding)
        with self.path.open("ab" if self.started else "wb") as fh:
            fh.write(text.encode(encoding))
        self.started = True

    def close(self) -> None:
        if not self.started:
            raise AssertionError(f"empty delivery {self.path}")


def _without_bom(encoding: str) -> str:
    return "utf-8" if encoding == "utf-8-sig" else encoding


class ParquetWriter:
    def __init__(self, path: Path, delivery: Delivery):
        self.path, self.writer = path, None

    def append(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self.writer.write_table(table.cast(self.writer.schema))

    def close(self) -> None:
        self.writer.close()


class XlsxWriter:
    """Buffers the pieces; dates become real date cells, numbers number cells."""

    def __init__(self, path: Path, delivery: Delivery):
        self.path, self.style = path, delivery.style
        self.pieces: list[pl.DataFrame] = []

    def append(self, frame: pl.DataFrame) -> None:
        self.pieces.append(frame)

    def close(self) -> None:
        frame = pl.concat(self.pieces, how="vertical_relaxed")
        book = xlsxwriter.Workbook(
            str(self.path),
            {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
        )
        book.set_properties({"created": FIXED_CREATED, "author": "yiyu sample"})
        sheet = book.add_worksheet("Sheet1")
        date_cell = book.add_format({"num_format": self.style.xlsx_date_format})
        for j, name in enumerate(frame.columns):
            sheet.write_string(0, j, name)
        for j, values in enumerate(frame.iter_columns()):
            for i, value in enumerate(values.to_list(), start=1):
                _write_cell(sheet, i, j, value, date_cell)
        book.close()


def _write_cell(sheet, row: int, col: int, value, date_cell) -> None:
    if value is None:
        return
    if isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), date_cell)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, str(value))


WRITERS = {"csv": CsvWriter, "parquet": ParquetWriter, "xlsx": XlsxWriter}


def open_writer(root: Path, delivery: Delivery):
    path = root / delivery.path
    path.parent.mkdir(parents=True, exist_ok=True)
    return WRITERS[delivery.fmt](path, delivery)
