"""Exports for evaluators: the scorecard and the indicator values as XLSX and CSV.

Both tables are the suppressed ones the report shows. XLSX keeps numbers as numbers (ratios
with a % number format); CSV (UTF-8 with BOM, so Excel on Chinese Windows reads it) writes
every cell as the report text. A suppressed cell reads `已抑制` in both.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import xlsxwriter

from pipelines.report.definitions import load_definitions
from pipelines.report.formatting import (
    COMPARATORS,
    SCOPE_LEVELS,
    SUPPRESSED,
    count,
    is_ratio,
    percent,
)
from pipelines.report.published import protected_scorecard, protected_values, read_published


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
        return str(self.value)


Column = tuple[str, Callable[[dict], Cell]]


def _figure_cell(code: str, value, suppressed: bool) -> Cell:
    if is_ratio(code):
        return Cell(value, "pct", suppressed)
    return Cell(value, "int" if value is None or float(value).is_integer() else "num", suppressed)


def _met_cell(met, suppressed: bool) -> Cell:
    return Cell(None if met is None else ("是" if met else "否"), "text", suppressed)


def _scorecard_columns(names: dict[str, str]) -> list[Column]:
    return [
        ("季度", lambda r: Cell(r["period"], "text")),
        ("目标代码", lambda r: Cell(r["target_code"], "text")),
        ("目标", lambda r: Cell(r["target_zh"], "text")),
        ("指标代码", lambda r: Cell(r["indicator_code"], "text")),
        ("指标", lambda r: Cell(names.get(r["indicator_code"], r["indicator_code"]), "text")),
        ("比较", lambda r: Cell(COMPARATORS.get(r["comparator"] or "", r["comparator"]), "text")),
        ("目标值", lambda r: _figure_cell(r["indicator_code"], r["target"], False)),
        ("当前值", lambda r: _figure_cell(r["indicator_code"], r["value"], r["value_suppressed"])),
        ("是否达标", lambda r: _met_cell(r["met"], r["value_suppressed"])),
    ]


def _value_columns() -> list[Column]:
    return [
        ("季度", lambda r: Cell(r["period"], "text")),
        ("参考日", lambda r: Cell(str(r["period_end"]), "text")),
        ("指标代码", lambda r: Cell(r["indicator_code"], "text")),
        ("指标名称", lambda r: Cell(r["indicator_name_zh"], "text")),
        ("范围级别", lambda r: Cell(SCOPE_LEVELS.get(r["scope_level"], r["scope_level"]), "text")),
        ("范围代码", lambda r: Cell(r["scope_code"], "text")),
        ("范围名称", lambda r: Cell(r["scope_name"], "text")),
        ("分子", lambda r: Cell(r["numerator"], "int", r["numerator_suppressed"])),
        ("分母", lambda r: Cell(r["denominator"], "int", r["denominator_suppressed"])),
        ("数值", lambda r: _figure_cell(r["indicator_code"], r["value"], r["value_suppressed"])),
        ("目标值", lambda r: _figure_cell(r["indicator_code"], r["target"], False)),
        # A row without a target has no state to hide.
        (
            "是否达标",
            lambda r: _met_cell(r["target_met"], r["value_suppressed"] and r["target"] is not None),
        ),
    ]


def export_tables(published: Path | None = None) -> dict[str, tuple[list[Column], pl.DataFrame]]:
    """Sheet name -> (columns, suppressed rows) of everything exported."""
    data = read_published(published)
    names = {code: d.name_zh for code, d in load_definitions().items()}
    scorecard = protected_scorecard(data.scorecard, data.indicator_values).sort(
        "period", "target_code"
    )
    values = protected_values(data.indicator_values).sort(
        "period", "indicator_code", pl.col("scope_level") != "district", "scope_code"
    )
    return {
        "目标达成": (_scorecard_columns(names), scorecard),
        "指标值": (_value_columns(), values),
    }


def write_exports(out_dir: Path, published: Path | None = None) -> list[Path]:
    """Write `评估数据.xlsx` (one sheet per table) and one CSV per table into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = export_tables(published)
    written = [_write_xlsx(out_dir / "评估数据.xlsx", tables)]
    for sheet, (columns, rows) in tables.items():
        written.append(_write_csv(out_dir / f"{sheet}.csv", columns, rows))
    return written


def _write_xlsx(path: Path, tables: dict[str, tuple[list[Column], pl.DataFrame]]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    formats = {
        "pct": book.add_format({"num_format": "0.0%"}),
        "int": book.add_format({"num_format": "0"}),
        "num": book.add_format({"num_format": "0.0"}),
        "text": None,
        "suppressed": book.add_format({"font_color": "#808080", "align": "right"}),
        "header": book.add_format({"bold": True, "bg_color": "#EAF2F8"}),
    }
    for sheet, (columns, rows) in tables.items():
        ws = book.add_worksheet(sheet)
        for j, (header, _) in enumerate(columns):
            ws.write_string(0, j, header, formats["header"])
            ws.set_column(j, j, 14)
        for i, row in enumerate(rows.iter_rows(named=True), start=1):
            for j, (_, make) in enumerate(columns):
                cell = make(row)
                if cell.suppressed:
                    ws.write_string(i, j, SUPPRESSED, formats["suppressed"])
                elif cell.value is None:
                    ws.write_blank(i, j, None)
                elif cell.kind == "text":
                    ws.write_string(i, j, str(cell.value))
                else:
                    ws.write_number(i, j, float(cell.value), formats[cell.kind])
        ws.freeze_panes(1, 0)
    book.close()
    return path


def _write_csv(path: Path, columns: list[Column], rows: pl.DataFrame) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([header for header, _ in columns])
        for row in rows.iter_rows(named=True):
            writer.writerow([make(row).text() for _, make in columns])
    return path
