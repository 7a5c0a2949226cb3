"""Exports for evaluators: the scorecard and the indicator values as XLSX and CSV.

Both tables are the suppressed ones the report shows. XLSX keeps numbers as numbers (ratios
with a % number format); CSV (UTF-8 with BOM, so Excel on Chinese Windows reads it) writes
every cell as the report text. A suppressed cell reads `已抑制` in both. Text cells are inert:
XLSX stores them as strings, never formulas, and a CSV cell that a spreadsheet would evaluate
gets a leading apostrophe.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import xlsxwriter

from pipelines.config import Settings
from pipelines.report.definitions import Indicators
from pipelines.report.formatting import COMPARATORS, SCOPE_LEVELS, SUPPRESSED, count, percent
from pipelines.report.published import read_published

# What a spreadsheet may evaluate at the start of a cell (contract section 7).
_ACTIVE = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_FORMATS = {"pct": "0.0%", "int": "0", "num": "0.0"}


@dataclass(frozen=True)
class Cell:
    """One published cell: its number (None when empty) and how to show it."""

    value: object
    kind: str  # "text", "int", "pct", "num"
    suppressed: bool = False

    def text(self) -> str:
        if self.suppressed:
            return SUPPRESSED
        if self.value is None:
            return ""
        if self.kind == "pct":
            return percent(self.value)
        if self.kind == "int":
            return count(self.value)
        if self.kind == "num":
            return f"{self.value:.1f}"
        text = str(self.value)
        return f"'{text}" if text.startswith(_ACTIVE) else text


Column = tuple[str, Callable[[dict], Cell]]
Table = tuple[list[Column], pl.DataFrame]


def _text(value) -> Cell:
    return Cell(value, "text")


def _figure_cell(ratio: bool, value, suppressed: bool) -> Cell:
    if ratio:
        return Cell(value, "pct", suppressed)
    return Cell(value, "int" if value is None or float(value).is_integer() else "num", suppressed)


def _met_cell(met, suppressed: bool) -> Cell:
    return Cell(None if met is None else ("是" if met else "否"), "text", suppressed)


def _scorecard_columns(ind: Indicators) -> list[Column]:
    def fig(r: dict, column: str, suppressed: bool) -> Cell:
        return _figure_cell(ind.is_ratio(r["indicator_code"]), r[column], suppressed)

    return [
        ("季度", lambda r: _text(r["period"])),
        ("目标代码", lambda r: _text(r["target_code"])),
        ("目标", lambda r: _text(r["target_zh"])),
        ("指标代码", lambda r: _text(r["indicator_code"])),
        ("指标", lambda r: _text(ind.name(r["indicator_code"]))),
        ("比较", lambda r: _text(COMPARATORS.get(r["comparator"] or "", r["comparator"]))),
        ("目标值", lambda r: fig(r, "target", False)),
        ("当前值", lambda r: fig(r, "value", r["value_suppressed"])),
        ("是否达标", lambda r: _met_cell(r["met"], r["value_suppressed"])),
    ]


def _value_columns(ind: Indicators) -> list[Column]:
    def fig(r: dict, column: str, suppressed: bool) -> Cell:
        return _figure_cell(ind.is_ratio(r["indicator_code"]), r[column], suppressed)

    return [
        ("季度", lambda r: _text(r["period"])),
        ("参考日", lambda r: _text(str(r["period_end"]))),
        ("指标代码", lambda r: _text(r["indicator_code"])),
        ("指标名称", lambda r: _text(r["indicator_name_zh"])),
        ("范围级别", lambda r: _text(SCOPE_LEVELS.get(r["scope_level"], r["scope_level"]))),
        ("范围代码", lambda r: _text(r["scope_code"])),
        ("范围名称", lambda r: _text(r["scope_name"])),
        ("分子", lambda r: Cell(r["numerator"], "int", r["numerator_suppressed"])),
        ("分母", lambda r: Cell(r["denominator"], "int", r["denominator_suppressed"])),
        ("数值", lambda r: fig(r, "value", r["value_suppressed"])),
        ("目标值", lambda r: fig(r, "target", False)),
        # A row without a target has no state to hide.
        (
            "是否达标",
            lambda r: _met_cell(r["target_met"], r["value_suppressed"] and r["target"] is not None),
        ),
    ]


def export_tables(published: Path, k: int) -> dict[str, Table]:
    """Sheet name -> (columns, suppressed rows) of everything exported."""
    data = read_published(published)
    scorecard = data.protected_scorecard(k).sort("period", "target_code")
    values = data.protected_values(k).sort(
        "period", "indicator_code", pl.col("scope_level") != "district", "scope_code"
    )
    return {
        "目标达成": (_scorecard_columns(data.indicators), scorecard),
        "指标值": (_value_columns(data.indicators), values),
    }


def write_exports(
    out_dir: Path, published: Path | None = None, settings: Settings | None = None
) -> list[Path]:
    """Write `评估数据.xlsx` (one sheet per table) and one CSV per table into `out_dir`."""
    settings = settings or Settings.from_env()
    tables = export_tables(published or settings.warehouse_path, settings.small_cell_k)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [_write_xlsx(out_dir / "评估数据.xlsx", tables)]
    for sheet, table in tables.items():
        written.append(_write_csv(out_dir / f"{sheet}.csv", table))
    return written


def _grid(table: Table) -> list[list[Cell]]:
    columns, rows = table
    return [[make(row) for _, make in columns] for row in rows.iter_rows(named=True)]


def _write_xlsx(path: Path, tables: dict[str, Table]) -> Path:
    # Strings stay strings: never a formula, a link or a number read out of a text.
    book = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    formats = {kind: book.add_format({"num_format": f}) for kind, f in _NUMBER_FORMATS.items()}
    suppressed = book.add_format({"font_color": "#808080", "align": "right"})
    header = book.add_format({"bold": True, "bg_color": "#EAF2F8"})

    def write_cell(sheet, row: int, col: int, cell: Cell, _format=None):
        if cell.suppressed:
            return sheet.write_string(row, col, SUPPRESSED, suppressed)
        if cell.value is None:
            return sheet.write_blank(row, col, None)
        if cell.kind == "text":
            return sheet.write_string(row, col, str(cell.value))
        return sheet.write_number(row, col, float(cell.value), formats[cell.kind])

    for name, table in tables.items():
        sheet = book.add_worksheet(name)
        sheet.add_write_handler(Cell, write_cell)
        columns, _ = table
        sheet.write_row(0, 0, [h for h, _ in columns], header)
        for i, cells in enumerate(_grid(table), start=1):
            sheet.write_row(i, 0, cells)
        sheet.set_column(0, len(columns) - 1, 14)
        sheet.freeze_panes(1, 0)
    book.close()
    return path


def _write_csv(path: Path, table: Table) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([header for header, _ in table[0]])
        writer.writerows([cell.text() for cell in cells] for cells in _grid(table))
    return path
