"""Day numbers (days since 1970-01-01) and the fixed dates of the synthetic world."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

EPOCH = date(1970, 1, 1)


def day(value: date) -> int:
    return (value - EPOCH).days


BIRTH_FIRST = day(date(2019, 10, 1))
# The extract date: no genuine event is later (the injected future dates are).
DATA_END = day(date(2023, 12, 31))
DAYS_PER_MONTH = 30.4375
NO_DAY = 10**6  # "no such date" in day arrays; never <= DATA_END


def as_dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


def dates_or_null(days: np.ndarray) -> pl.Series:
    """Dates, null where the day is after the extract date (not happened yet)."""
    late = days > DATA_END
    return as_dates(np.where(late, 0, days)).set(pl.Series(late), None)


def month_ends(first: date, last: date) -> list[tuple[str, int]]:
    """('YYYY-MM', last day number) for every month from first to last."""
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append((f"{y}-{m:02d}", day(date(ny, nm, 1)) - 1))
        y, m = ny, nm
    return out


def quarter_label(days: np.ndarray) -> np.ndarray:
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    years = months // 12 + 1970
    return np.char.add(np.char.add(years.astype(str), "Q"), (months % 12 // 3 + 1).astype(str))


def text_where(keep: np.ndarray, values) -> pl.Series:
    """Text `values` (an array or one label) where `keep`, null elsewhere."""
    values = np.broadcast_to(np.asarray(values, dtype=str), keep.shape)
    return pl.Series(values, dtype=pl.Utf8).set(pl.Series(~keep), None)
