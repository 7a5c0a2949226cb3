"""Canonical frames -> the values and headers a delivery file carries.

Canonical frames hold the contract's column names with typed values (dates, floats,
'M'/'F', English codes). Rendering turns them into one export's forms; the meta columns
(`_bad_col`/`_bad_value`) put injected raw text where typing cannot hold it.
"""

from __future__ import annotations

import polars as pl

from pipelines.ingest.sources import SOURCES, Column
from pipelines.sample.plan import Delivery, Style

EXTRA_PREFIX = "_x_"
UNITS = {"height_cm": "cm", "weight_kg": "kg", "hemoglobin_g_l": "g/L", "monthly_fee_yuan": "元"}
# Where a column has several aliases, the one this source's own system prints.
PREFERRED_ALIAS = {
    ("health_archives", "facility_code"): "建档机构代码",
    ("health_checks", "facility_code"): "检查机构代码",
    ("health_archives", "closed_on"): "结案日期",
    ("institutions", "closed_on"): "停办日期",
    ("births", "community_code"): "现住址社区代码",
    ("institutions", "community_code"): "所在社区代码",
    ("health_facilities", "street_code"): "所属街道代码",
    ("catchments", "facility_code"): "机构代码",
}
PADDINGS = ("", " ", "\u3000", "  ")
_ASCII = [chr(c) for c in range(0x21, 0x7F)]
_FULLWIDTH = [chr(c + 0xFEE0) for c in range(0x21, 0x7F)]
# Kinds whose cells an export may carry in full-width forms.
_WIDENED_KINDS = ("id_number", "identifier", "code", "date", "float", "int")


def exported_columns(source: str, delivery: Delivery, frame: pl.DataFrame) -> list[Column]:
    skipped = {*delivery.omit, delivery.drop_required}
    return [c for c in SOURCES[source].columns if c.name in frame.columns and c.name not in skipped]


def headers(source: str, columns: list[Column], style: Style) -> list[str]:
    out = []
    for j, col in enumerate(columns):
        zh = PREFERRED_ALIAS.get((source, col.name))
        zh = zh or (col.aliases[-1] if style.header_mode == "zh_alt" else col.aliases[0])
        chinese = style.header_mode in ("zh", "zh_alt") or (style.header_mode == "mixed" and j % 2)
        name = zh if chinese else col.name
        if style.header_noise:
            name = _noisy_header(name, chinese, j, UNITS.get(col.name))
        out.append(name)
    if len(set(out)) != len(out):
        raise AssertionError(f"duplicate headers in a {source} delivery: {out}")
    return out


def _noisy_header(name: str, chinese: bool, j: int, unit: str | None) -> str:
    if unit and chinese:
        return f"{name}({unit})" if j % 2 else f"{name}（{unit}）"
    variant = j % 4
    if variant == 1:
        return f" {name} " if chinese else name.title()
    if variant == 2 and not chinese:
        return name.upper() if j % 8 == 2 else _widen(name)
    if variant == 3:
        return f"\u3000{name}"
    return name


def _widen(text: str) -> str:
    return text.translate({ord(a): f for a, f in zip(_ASCII, _FULLWIDTH, strict=True)})


def _as_text(col: Column, style: Style, alt_rows: pl.Expr) -> pl.Expr:
    c = pl.col(col.name)
    if col.kind == "date":
        text = c.dt.strftime(style.date_form)
        if style.alt_date_form:
            text = pl.when(alt_rows).then(c.dt.strftime(style.alt_date_form)).otherwise(text)
        return text
    if col.kind in ("float", "int"):
        return _number_text(col)
    return _labelled(col, style)


def _number_text(col: Column) -> pl.Expr:
    c = pl.col(col.name)
    if col.kind == "int" or col.name == "monthly_fee_yuan":
        return c.round(0).cast(pl.Int64).cast(pl.Utf8)
    return c.round(1).cast(pl.Utf8)


def _labelled(col: Column, style: Style) -> pl.Expr:
    """Text of sex, booleans, enumerations and ID numbers in this export's forms."""
    c = pl.col(col.name)
    if col.kind == "sex":
        male, female = style.sex_form
        return c.replace_strict({"M": male, "F": female}, default=c)
    if col.kind == "bool":
        yes, no = style.bool_form
        return pl.when(c).then(pl.lit(yes)).when(~c).then(pl.lit(no))
    if col.kind == "enum" and style.enum_labels:
        labels = {
            code: names[-1 if style.header_mode == "zh_alt" else 0]
            for code, names in col.codes.items()
        }
        return c.replace_strict(labels, default=c)
    if col.kind == "id_number" and style.lower_x:
        return c.str.to_lowercase()
    return c


def _with_bad_values(expr: pl.Expr, col: Column) -> pl.Expr:
    hit = (pl.col("_bad_col") == col.name) & pl.col("_bad_value").is_not_null()
    return pl.when(hit.fill_null(False)).then(pl.col("_bad_value")).otherwise(expr)


def render_text(source: str, delivery: Delivery, frame: pl.DataFrame, rng) -> pl.DataFrame:
    """All cells as text (CSV), with the style's noise and injected raw values."""
    style = delivery.style
    cols = exported_columns(source, delivery, frame)
    n = frame.height
    alt_rows = pl.Series(rng.random(n) < 0.15) if style.alt_date_form else pl.lit(False)
    exprs = []
    for col in cols:
        text = _with_bad_values(_as_text(col, style, alt_rows), col)
        if style.fullwidth_share and col.kind in _WIDENED_KINDS:
            wide = pl.Series(rng.random(n) < style.fullwidth_share)
            text = pl.when(wide).then(text.str.replace_many(_ASCII, _FULLWIDTH)).otherwise(text)
        if style.padding_share:
            pad = pl.Series(rng.choice(4, size=n, p=_padding_weights(style.padding_share)))
            pad = pad.replace_strict(dict(enumerate(PADDINGS)), return_dtype=pl.Utf8)
            text = pl.concat_str(pad, text, pad.str.slice(0, 1))
        exprs.append(text.alias(col.name))
    out = frame.select(exprs + _extras(frame, delivery))
    return out.rename(dict(zip(out.columns, _names(source, cols, style, out), strict=True)))


def _padding_weights(share: float) -> list[float]:
    return [1 - share, share / 2, share / 4, share / 4]


def render_typed(source: str, delivery: Delivery, frame: pl.DataFrame) -> pl.DataFrame:
    """Typed cells (XLSX date/number cells, Parquet types): only labels become text."""
    style = delivery.style
    cols = exported_columns(source, delivery, frame)
    keep_typed = ("date", "float", "int")
    if delivery.fmt == "parquet":
        keep_typed = (*keep_typed, "bool")
    exprs = [
        (pl.col(c.name) if c.kind in keep_typed else _labelled(c, style)).alias(c.name)
        for c in cols
    ]
    out = frame.select(exprs + _extras(frame, delivery))
    return out.rename(dict(zip(out.columns, _names(source, cols, style, out), strict=True)))


def _extras(frame: pl.DataFrame, delivery: Delivery) -> list[pl.Expr]:
    return [pl.col(c) for c in frame.columns if c.startswith(EXTRA_PREFIX)]


def _names(source: str, cols: list[Column], style: Style, out: pl.DataFrame) -> list[str]:
    extra = [c.removeprefix(EXTRA_PREFIX) for c in out.columns[len(cols) :]]
    return headers(source, cols, style) + extra
