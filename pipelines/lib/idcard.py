"""Resident ID numbers (GB 11643), vectorised as polars expressions.

`id18` converts a cleaned ID number to its 18-character form, or null when it is not a
valid number: wrong length or characters, a bad MOD 11-2 check character, an impossible
embedded birth date, or a placeholder. Callers compare the embedded birth date and sex with
the record to drop IDs that belong to somebody else (a newborn's record often carries the
mother's).
"""

from __future__ import annotations

import polars as pl

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


def _check_char(body17: pl.Expr) -> pl.Expr:
    total = pl.sum_horizontal(
        body17.str.slice(i, 1).cast(pl.Int32, strict=False) * w for i, w in enumerate(WEIGHTS)
    )
    return pl.lit(CHECK_CHARS).str.slice(total % 11, 1)


def _birth_date(expr: pl.Expr) -> pl.Expr:
    return expr.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)


def id18(cleaned: pl.Expr) -> pl.Expr:
    """18-character valid ID number or null. `cleaned` is NFKC-normalised and stripped."""
    upper = cleaned.str.to_uppercase()
    # A 15-digit legacy number has a 2-digit year of the 1900s and no check character.
    body17 = (
        pl.when(upper.str.contains(r"^\d{15}$"))
        .then(upper.str.slice(0, 6) + pl.lit("19") + upper.str.slice(6, 9))
        .when(upper.str.contains(r"^\d{17}[\dX]$"))
        .then(upper.str.slice(0, 17))
    )
    given_check = pl.when(upper.str.len_chars() == 18).then(upper.str.slice(17, 1))
    computed = _check_char(body17)
    full = body17 + computed
    placeholder = body17.str.contains(r"^0+$") | body17.str.slice(0, 6).str.contains(r"^0+$")
    valid = (
        body17.is_not_null()
        & (given_check.is_null() | (given_check == computed))
        & _birth_date(full).is_not_null()
        & ~placeholder
    )
    return pl.when(valid).then(full)


def id_birth_date(valid_id18: pl.Expr) -> pl.Expr:
    return _birth_date(valid_id18)


def id_sex(valid_id18: pl.Expr) -> pl.Expr:
    """'M' or 'F' from the 17th digit (odd: male)."""
    digit = valid_id18.str.slice(16, 1).cast(pl.Int32, strict=False)
    return (
        pl.when(digit.is_null())
        .then(None)
        .when(digit % 2 == 1)
        .then(pl.lit("M"))
        .otherwise(pl.lit("F"))
    )
