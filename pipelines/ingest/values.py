"""Value normalisation as real exports carry values (contract section 2), as polars expressions.

Each parser takes an already cleaned text expression (`clean`) and returns the typed value,
null when the text cannot be read; the caller compares with the cleaned text to tell
"missing" from "unparseable".
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

TRUE_WORDS = ("是", "y", "yes", "1", "true", "t")
FALSE_WORDS = ("否", "n", "no", "0", "false", "f")
SEX_WORDS = {
    "男": "M",
    "1": "M",
    "m": "M",
    "male": "M",
    "女": "F",
    "2": "F",
    "f": "F",
    "female": "F",
}
_UNIT_SUFFIX = re.compile(r"\s*[(\[【][^)\]】]*[)\]】]\s*$")


def clean(expr: pl.Expr) -> pl.Expr:
    """NFKC (full-width digits, letters and spaces), trimmed; empty -> null.

    ASCII text is its own NFKC form, so only values with other characters are normalised
    (most values of an export are ASCII; normalising a null costs nothing)."""
    ascii_only = expr.str.len_bytes() == expr.str.len_chars()
    text = pl.coalesce(pl.when(~ascii_only).then(expr).str.normalize("NFKC"), expr)
    text = text.str.strip_chars()
    return pl.when(text != "").then(text)


def header_key(header: str) -> str:
    """A header as matched: NFKC, trimmed, lower case, without a unit in brackets."""
    text = unicodedata.normalize("NFKC", header).replace("\ufeff", "").strip().lower()
    return _UNIT_SUFFIX.sub("", text).strip()


def parse_date(text: pl.Expr) -> pl.Expr:
    """2023-01-05, 2023/1/5, 20230105, 2023年1月5日, 2023.01.05, or an Excel cell's ISO text."""
    day_part = text.str.replace(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "")
    dashed = (
        day_part.str.replace_all(r"[年月/.]", "-")
        .str.replace(r"日$", "")
        .str.replace(r"^(\d{4})(\d{2})(\d{2})$", "$1-$2-$3")
    )
    parts = dashed.str.extract_groups(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
    padded = (
        parts.struct.field("1")
        + "-"
        + parts.struct.field("2").str.zfill(2)
        + "-"
        + parts.struct.field("3").str.zfill(2)
    )
    return padded.str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def parse_bool(text: pl.Expr) -> pl.Expr:
    lower = text.str.to_lowercase()
    return pl.when(lower.is_in(TRUE_WORDS)).then(True).when(lower.is_in(FALSE_WORDS)).then(False)


def parse_sex(text: pl.Expr) -> pl.Expr:
    return text.str.to_lowercase().replace_strict(SEX_WORDS, default=None, return_dtype=pl.String)


def parse_code(text: pl.Expr, codes: dict[str, tuple[str, ...]]) -> pl.Expr:
    """An enumeration: the English code (any case) or one of its Chinese labels."""
    mapping = {code: code for code in codes}
    mapping.update({label: code for code, labels in codes.items() for label in labels})
    return text.str.to_lowercase().replace_strict(mapping, default=None, return_dtype=pl.String)


def parse_float(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(",", "").cast(pl.Float64, strict=False)


def parse_int(text: pl.Expr) -> pl.Expr:
    """Whole numbers, also as Excel writes them (`12.0`)."""
    number = parse_float(text)
    return pl.when(number == number.floor()).then(number.cast(pl.Int64, strict=False))


def normalise_identifier(text: pl.Expr) -> pl.Expr:
    return text.str.to_uppercase()


def normalise_name(text: pl.Expr) -> pl.Expr:
    """Names compare without inner spaces and with one form of the middle dot."""
    return text.str.replace_all(r"\s+", "").str.replace_all(r"[•・．.]", "·")
