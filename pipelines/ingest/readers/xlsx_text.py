"""calamine's typed cells (fastexcel) as the text of openpyxl's value through `str()`, the
reference reading (`xlsx._read_xlsx_openpyxl`): a string as stored; a number as Python prints
it; a date an ISO date, `str(datetime)` with a time; a duration `str(timedelta)`; a boolean
`True` or `False`; an error its code (`#N/A`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import polars as pl


@dataclass
class Block:
    """Cells as calamine typed them, columns named by absolute column index ("0" is A),
    rows consecutive sheet rows; error cells (null in `frame`) apart, as their text."""

    frame: pl.DataFrame
    errors: dict[tuple[int, str], str]  # (row in frame, column) -> "#N/A"...


# Text of an ISO date cell (`<c t="d">`) that openpyxl printed otherwise: a datetime, a time
# of day or a duration; calamine gives such cells as they are written.
_ISO_CELL = r"^(?:\d{4}-\d{2}-\d{2}[TZ]|\d{2}:\d{2}|PT\d)"


def iso_text(blocks: list[Block]) -> bool:
    """Whether a text cell may be an ISO date cell, which openpyxl reads as a date."""
    frames = blocks if len(blocks) == 2 else blocks[:1]  # typed: the text columns hold them
    return any(
        b.frame.select(pl.any_horizontal(pl.col(pl.String).str.contains(_ISO_CELL).any())).item()
        for b in frames
        if pl.String in b.frame.dtypes
    )


def sheet_text(blocks: list[Block], date1904: bool) -> pl.DataFrame:
    """The cells of `xlsx._load_sheet`'s blocks as text, row 0 the header."""
    if len(blocks) == 2:  # the header row and the rows under it, one type per column each
        header, body = blocks
        texts = pl.concat([typed_text(b.frame, date1904) for b in blocks])
        errors = header.errors | {(r + 1, c): text for (r, c), text in body.errors.items()}
    else:
        texts, errors = _mixed_text(*blocks, date1904), blocks[0].errors
    fixed: dict[str, pl.Series] = {}
    for (row, col), text in errors.items():
        fixed[col] = fixed.get(col, texts.get_column(col).clone()).scatter(row, text)
    return texts.with_columns(fixed.values())


def typed_text(frame: pl.DataFrame, date1904: bool) -> pl.DataFrame:
    """Each column of a block holding one type of cell per column, as text."""
    exprs = []
    for name, dtype in frame.schema.items():
        x = pl.col(name)
        if dtype == pl.Boolean:
            exprs.append(_bool_text(x))
        elif dtype.is_numeric():
            exprs.append(_float_text(x.cast(pl.Float64)))
        elif dtype == pl.Duration:  # a [h]:mm format
            exprs.append(_duration_text(x))
        elif dtype in (pl.Datetime, pl.Date):
            exprs.append(_datetime_text(x.cast(pl.Datetime("ms")), date1904))
        else:  # text, or no value in the whole column
            exprs.append(x.cast(pl.String))
    texts = frame.select(e.alias(n) for e, n in zip(exprs, frame.columns, strict=True))
    numbers = [pl.col(n).cast(pl.Float64) for n, t in frame.schema.items() if t.is_numeric()]
    return _python_floats(frame.select(numbers), texts)


def _mixed_text(as_text: Block, as_bool: Block, as_serial: Block, date1904: bool) -> pl.DataFrame:
    """All cells, whatever their type. As text calamine gives a text cell as stored, a
    number in full (`330206199001011328`), a boolean `true`/`false`; as a boolean it converts
    number and boolean cells only; as a duration date cells only (their serial number)."""
    both = pl.concat(
        [
            as_text.frame,
            as_bool.frame.rename(lambda c: f"b{c}"),
            as_serial.frame.rename(lambda c: f"d{c}"),
        ],
        how="horizontal",
    )
    epoch = datetime(1904, 1, 1) if date1904 else datetime(1899, 12, 30)
    texts, numbers = [], []
    for n in as_text.frame.columns:
        text, flag = pl.col(n), pl.col(f"b{n}")
        serial = pl.col(f"d{n}").cast(pl.Duration("ms"))
        if not date1904:  # as calamine's datetimes: a day later below 60 (`_datetime_text`)
            serial = (
                pl.when(serial < timedelta(days=60))
                .then(serial + timedelta(days=1))
                .otherwise(serial)
            )
        is_bool = flag.is_not_null() & text.is_in(["true", "false"])
        number = pl.when(flag.is_not_null() & ~is_bool).then(text.cast(pl.Float64, strict=False))
        numbers.append(number.alias(n))
        texts.append(
            pl.when(serial.is_not_null())
            .then(_datetime_text(pl.lit(epoch) + serial, date1904))
            .when(is_bool)
            .then(_bool_text(flag))
            .when(flag.is_not_null())
            .then(_float_text(number))
            .otherwise(text)
            .alias(n)
        )
    return _python_floats(both.select(numbers), both.select(texts))


def _bool_text(x: pl.Expr) -> pl.Expr:
    return pl.when(x).then(pl.lit("True")).when(~x).then(pl.lit("False"))


def _float_text(x: pl.Expr) -> pl.Expr:
    """A number cell as openpyxl and `str()` gave it. openpyxl made a number written without
    a point or exponent an int, and writers print a whole number below 1e16 so (`%.16g`);
    any other is Python's `repr(float)`, so an ID number Excel made a number reads
    `3.30206199001011e+17` and fails validation. Polars prints a float in [1e-4, 1e16) as
    Python does; `_python_floats` gives the others."""
    whole = (x == x.floor()) & (x.abs() < 1e16)
    integer = x.cast(pl.Int64, strict=False).cast(pl.String)
    return pl.when(whole).then(integer).otherwise(x.cast(pl.String))


def _python_floats(numbers: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """Numbers whose repr has an exponent (or is inf/nan) get it from Python: few values,
    typically ID numbers Excel made numbers, one `repr` per distinct value."""
    fixed = []
    for name in numbers.columns:
        x = numbers.get_column(name)
        odd = ~x.is_finite() | (x.abs() >= 1e16) | ((x != 0) & (x.abs() < 1e-4))
        odd = odd.fill_null(False)
        if odd.any():
            values = x.filter(odd).unique()
            python = x.replace_strict(values, [repr(v) for v in values], default=None)
            fixed.append(python.zip_with(odd, texts.get_column(name)).alias(name))
    return texts.with_columns(fixed)


def _duration_text(x: pl.Expr) -> pl.Expr:
    """A duration cell as openpyxl gave it: `str(timedelta)`, `1 day, 2:00:00.500000`."""
    ms = x.dt.total_milliseconds()
    days = ms // 86_400_000
    rest = ms - days * 86_400_000
    fraction = ((rest % 1000) * 1000).cast(pl.String).str.zfill(6)
    clock = pl.concat_str(
        (rest // 3_600_000).cast(pl.String),
        pl.lit(":"),
        (rest // 60_000 % 60).cast(pl.String).str.zfill(2),
        pl.lit(":"),
        (rest // 1000 % 60).cast(pl.String).str.zfill(2),
        pl.when(rest % 1000 != 0).then(pl.concat_str(pl.lit("."), fraction)).otherwise(pl.lit("")),
    )
    unit = pl.when(days.abs() == 1).then(pl.lit(" day, ")).otherwise(pl.lit(" days, "))
    in_days = (
        pl.when(days != 0).then(pl.concat_str(days.cast(pl.String), unit)).otherwise(pl.lit(""))
    )
    return pl.concat_str(in_days, clock)


def _datetime_text(x: pl.Expr, date1904: bool) -> pl.Expr:
    """A date cell as openpyxl and `_cell_text` gave it, from calamine's datetime (ms):
    a serial number in [0, 1) a time of day (`08:30:00`), a datetime at midnight a date
    (`2023-03-01`), any other `str(datetime)` (`2023-03-01 08:30:00.500000`), one beyond
    Python's datetimes `#VALUE!`. Both count a serial below 60 a day later (Excel's 1900
    leap day); calamine does so for a negative serial too, openpyxl not."""
    day0 = datetime(1904, 1, 1) if date1904 else datetime(1899, 12, 31)  # serial 0
    if not date1904:
        x = pl.when(x < day0).then(x - timedelta(days=1)).otherwise(x)
    python = x.is_between(datetime.min, datetime.max.replace(microsecond=999000))
    valid = pl.when(python).then(x)
    full = valid.dt.strftime("%Y-%m-%d %H:%M:%S%.6f")  # Excel's years have four digits
    whole_second = valid.dt.millisecond() == 0
    return (
        pl.when(~python)
        .then(pl.lit("#VALUE!"))
        .when((x >= day0) & (x < day0 + timedelta(days=1)))
        .then(pl.when(whole_second).then(full.str.slice(11, 8)).otherwise(full.str.slice(11)))
        .when(valid.dt.time() == time(0))
        .then(full.str.slice(0, 10))
        .when(whole_second)
        .then(full.str.slice(0, 19))
        .otherwise(full)
    )
