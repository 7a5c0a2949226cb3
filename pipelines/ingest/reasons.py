"""Reason codes and the texts of the quarantine, the warnings and the rejections. A text names
the column and the reason and describes a value, never quotes one (contract section 7): any
value can be anywhere once a column is shifted. Of a register without personal rows, only a
value outside a code list is quoted, cut to 32 characters.
"""

from __future__ import annotations

import polars as pl

from pipelines.ingest.sources import RANGES, Column, Source

QUARANTINE_SCHEMA = {
    "row_number": pl.Int64,
    "column_name": pl.String,
    "reason_code": pl.String,
    "detail": pl.String,
}
WARNING_SCHEMA = {
    "row_number": pl.Int64,
    "column_name": pl.String,
    "warning_code": pl.String,
    "detail": pl.String,
}


_CODE_KINDS = {"enum", "sex"}
# What a value that cannot be read is not, by kind: messages describe a value, never quote it.
_NOT_A = {
    "date": "not a date",
    "bool": "not a yes/no value",
    "int": "not a whole number",
    "float": "not a number",
    "enum": "not in the code list",
    "sex": "not in the code list",
}
# Of a register without personal rows, a value outside a code list is quoted up to this length.
_QUOTED_CHARS = 32
NO_HEADER = "no recognisable header: the first row names none of the source's columns"
UNLINKABLE = (
    "no ID number, birth certificate or archive number, and no complete name + birth date + sex"
)
INVALID_STAFF_ID = "id_number: not a valid resident ID number (GB 11643)"
WARNING_TEXTS = {
    "invalid_id_number": "id_number: not a valid resident ID number, dropped",
    "id_birth_date_mismatch": "id_number: birth date differs from the record's"
    " (not the child's, e.g. the mother's), dropped",
    "id_sex_mismatch": "sex: disagrees with the ID number",
}


def problem(source: Source, col: Column, text: pl.Expr, typed: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Reason code and message for one column, null when the value is fine. A message names
    the column and describes the value (`birth_date: not a date, 18 characters`); only a value
    outside a code list, in a register without personal rows, is quoted (contract section 7)."""
    unreadable = "invalid_code" if col.kind in _CODE_KINDS else "unparseable_value"
    as_text = text.cast(pl.String)  # a typed Parquet column is text only in a message
    if col.kind in _CODE_KINDS and not source.personal_rows:
        shown = pl.lit(f"{col.name}: cannot read '") + as_text.str.slice(0, _QUOTED_CHARS) + "'"
    else:
        length = as_text.str.len_chars()
        unit = pl.when(length == 1).then(pl.lit("character")).otherwise(pl.lit("characters"))
        what = f"{col.name}: {_NOT_A.get(col.kind, 'not readable')}, "
        shown = pl.concat_str(pl.lit(what), length.cast(pl.String), pl.lit(" "), unit)
    low, high = RANGES.get(col.name, (None, None))
    outside = pl.lit(False)
    if low is not None:
        outside = outside | (typed < low)
    if high is not None:
        outside = outside | (typed > high)
    range_text = f"outside {low}..{high}" if high is not None else f"below {low}"
    reason = (
        pl.when(text.is_null() & pl.lit(col.required))
        .then(pl.lit("missing_required_value"))
        .when(text.is_not_null() & typed.is_null())
        .then(pl.lit(unreadable))
        .when(outside.fill_null(False))
        .then(pl.lit("out_of_range"))
    )
    message = (
        pl.when(text.is_null())
        .then(pl.lit(f"{col.name}: required value is empty"))
        .when(typed.is_null())
        .then(shown)
        .otherwise(pl.lit(f"{col.name}: {range_text}"))
    )
    return reason, message


def noted_header(header: str) -> str:
    """An unknown header as the audit notes it. A header cell over several lines took in the
    rows after it (a quote left open): it is described, never quoted."""
    if "\n" in header or "\r" in header:
        return f"(a header cell over {len(header.splitlines())} lines, not shown)"
    return header


def unread_rows(row_numbers: pl.Series, reason: str) -> pl.DataFrame:
    """Quarantine rows (QUARANTINE_SCHEMA) for the lines of a file that cannot be read."""
    return row_numbers.to_frame("row_number").select(
        "row_number",
        column_name=pl.lit("file"),
        reason_code=pl.lit("unreadable_file"),
        detail=pl.lit(reason),
    )


def malformed_rows(malformed: pl.DataFrame) -> pl.DataFrame:
    """Quarantine rows (QUARANTINE_SCHEMA) for the rows whose cells do not line up with the
    header (`readers.RawTable.malformed`)."""
    return malformed.select(
        "row_number",
        column_name=pl.lit("record"),
        reason_code=pl.lit("malformed_row"),
        detail=pl.col("detail"),
    )


def warnings(good: pl.DataFrame) -> pl.DataFrame:
    """The warnings of the valid rows of a child-level source (flags `_w_id`, `_w_sex`)."""
    parts = [
        good.filter(pl.col(flag).is_not_null()).select(
            row_number=pl.col("_row"),
            column_name=pl.lit(column),
            warning_code=pl.col(flag),
            detail=pl.col(flag).replace_strict(WARNING_TEXTS, return_dtype=pl.String),
        )
        for flag, column in (("_w_id", "id_number"), ("_w_sex", "sex"))
    ]
    return pl.concat(parts)


def no_warnings() -> pl.DataFrame:
    return pl.DataFrame(schema=WARNING_SCHEMA)
