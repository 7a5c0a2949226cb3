"""Identifiers: GB 11643 resident ID numbers (vectorised) and their broken export forms."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.sample import domain

# GB 11643 MOD 11-2: weights 2^(17-i) mod 11 and the check character per remainder.
_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_CHECK = np.array(list("10X98765432"))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits of non-negative integers, most significant first: shape (n, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers) % 10


def ymd(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 -> yyyymmdd integers."""
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months).astype(np.int64) + 1
    return year * 10000 + month * 100 + day


def resident_ids(region: np.ndarray, birth_days: np.ndarray, seq: np.ndarray) -> pl.Series:
    """18-character resident IDs: region (6) + birth date (8) + sequence (3) + check char.

    The sequence's last digit carries sex (odd = male), so callers pass it ready.
    """
    region = region.astype(np.int64)
    birth = ymd(birth_days)
    body = np.hstack([_digits(region, 6), _digits(birth, 8), _digits(seq.astype(np.int64), 3)])
    check = _CHECK[(body @ _WEIGHTS) % 11]
    frame = pl.DataFrame({"r": region, "b": birth, "s": seq.astype(np.int64), "c": check})
    return frame.select(
        pl.concat_str(
            pl.col("r").cast(pl.Utf8),
            pl.col("b").cast(pl.Utf8),
            pl.col("s").cast(pl.Utf8).str.zfill(3),
            pl.col("c"),
        ).alias("id_number")
    ).to_series()


def sequence_numbers(is_male: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The 3-digit sequence for the rank-th person of a sex born on one day in one region."""
    return 2 * (rank % 500) + is_male.astype(np.int64)


def legacy_15(id18: pl.Series) -> pl.Series:
    """The 15-digit number a person born in the 1900s held before 1999 (no century, no check)."""
    return id18.str.slice(0, 6) + id18.str.slice(8, 9)


def wrong_check_char(id18: pl.Series) -> pl.Series:
    """The same number with a check character that fails MOD 11-2."""
    frame = pl.DataFrame({"id": id18})
    right = pl.col("id").str.slice(17, 1)
    wrong = pl.when(right == "0").then(pl.lit("1")).otherwise(pl.lit("0"))
    return frame.select(pl.col("id").str.slice(0, 17) + wrong).to_series().alias(id18.name)


def excel_number(id18: pl.Series) -> pl.Series:
    """How Excel shows an 18-digit number in General format: six significant digits."""
    mantissa = id18.str.slice(0, 1) + "." + id18.str.slice(1, 5).str.strip_chars_end("0")
    return (mantissa.str.strip_chars_end(".") + "E+17").alias(id18.name)


def adult_regions(rng, birth_days: np.ndarray, local_share: float) -> np.ndarray:
    """Region prefixes for adults: Beilun's for some born after it was created, else a
    county whose code has not changed since before they were born."""
    year = birth_days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    local = (rng.random(len(birth_days)) < local_share) & (year >= domain.BEILUN_SINCE)
    return np.where(local, int(domain.DISTRICT), rng.choice(domain.ADULT_REGIONS, len(year)))


def numbered(prefix, seq: np.ndarray, width: int) -> pl.Series:
    """prefix + zero-padded sequence numbers; `prefix` is text or a Series of texts."""
    digits = pl.Series(seq.astype(np.int64)).cast(pl.Utf8).str.zfill(width)
    return pl.select(pl.lit(prefix) + digits).to_series()
