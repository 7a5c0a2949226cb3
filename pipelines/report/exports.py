"""Exports for evaluators: the scorecard, the indicator values, the street assessment and
ranking and the follow-up backlog as XLSX and CSV.

Every table is the suppressed one the report shows. XLSX keeps numbers as numbers (ratios
with a % number format) and dates as dates, and explains itself on its `说明` sheet
(`workbook.py`); CSV (UTF-8 with BOM, so Excel on Chinese Windows reads it) writes every
cell as the report text. A suppressed cell reads `已抑制` and a cell without a value `无数据`
in both. Text cells are inert: XLSX stores them as strings, never formulas, and a CSV cell
that a spreadsheet would evaluate gets a leading apostrophe.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipelines.config import Settings
from pipelines.report.definitions import Indicators
from pipelines.report.formatting import (
    COMPARATORS,
    DEFAULT_TIMEZONE,
    FOLLOW_UP_REASONS,
    RECIPIENT_TYPES,
    SCOPE_LEVELS,
    local_time,
)
from pipelines.report.published import Published, read_published
from pipelines.report.workbook import (
    BACKLOG,
    STREETS,
    AsOf,
    Cell,
    Column,
    Table,
    grid,
    text,
    write_workbook,
)

WORKBOOK = "评估数据.xlsx"


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
        ("季度", lambda r: text(r["period"])),
        ("目标代码", lambda r: text(r["target_code"])),
        ("目标", lambda r: text(r["target_zh"])),
        ("指标代码", lambda r: text(r["indicator_code"])),
        ("指标", lambda r: text(ind.name(r["indicator_code"]))),
        ("比较", lambda r: text(COMPARATORS.get(r["comparator"] or "", r["comparator"]))),
        ("目标值", lambda r: fig(r, "target", False)),
        ("当前值", lambda r: fig(r, "value", r["value_suppressed"])),
        ("是否达标", lambda r: _met_cell(r["met"], r["value_suppressed"])),
    ]


def _value_columns(ind: Indicators) -> list[Column]:
    def fig(r: dict, column: str, suppressed: bool) -> Cell:
        return _figure_cell(ind.is_ratio(r["indicator_code"]), r[column], suppressed)

    return [
        ("季度", lambda r: text(r["period"])),
        ("参考日", lambda r: Cell(r["period_end"], "date")),
        ("指标代码", lambda r: text(r["indicator_code"])),
        ("指标名称", lambda r: text(r["indicator_name_zh"])),
        ("范围级别", lambda r: text(SCOPE_LEVELS.get(r["scope_level"], r["scope_level"]))),
        ("范围代码", lambda r: text(r["scope_code"])),
        ("范围名称", lambda r: text(r["scope_name"])),
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


def _assessment_columns(ind: Indicators) -> list[Column]:
    def fig(r: dict, column: str, suppressed: bool) -> Cell:
        return _figure_cell(ind.is_ratio(r["indicator_code"]), r[column], suppressed)

    return [
        ("季度", lambda r: text(r["period"])),
        ("街道代码", lambda r: text(r["street_code"])),
        ("街道名称", lambda r: text(r["street_name"])),
        ("目标代码", lambda r: text(r["target_code"])),
        ("指标代码", lambda r: text(r["indicator_code"])),
        ("指标", lambda r: text(ind.name(r["indicator_code"]))),
        ("数值", lambda r: fig(r, "value", r["value_suppressed"])),
        ("目标值", lambda r: fig(r, "target", False)),
        ("是否达标", lambda r: _met_cell(r["met"], r["value_suppressed"])),
        ("基线（首个季度）", lambda r: fig(r, "baseline_value", r["baseline_suppressed"])),
        ("较基线变化", lambda r: fig(r, "change", r["change_suppressed"])),
    ]


def _ranking_columns() -> list[Column]:
    return [
        ("季度", lambda r: text(r["period"])),
        ("排名", lambda r: Cell(r["rank"], "int")),
        ("街道代码", lambda r: text(r["street_code"])),
        ("街道名称", lambda r: text(r["street_name"])),
        ("适用目标数", lambda r: Cell(r["targets_applicable"], "int")),
        ("达标数", lambda r: Cell(r["targets_met"], "int", r["targets_met_suppressed"])),
        (
            "比率目标平均变化（百分点）",
            lambda r: Cell(r["mean_change_pp"], "num", r["mean_change_suppressed"]),
        ),
    ]


def _backlog_columns(ind: Indicators) -> list[Column]:
    """The exported backlog sheet's columns (Chinese headers like the other sheets)."""
    return [
        ("季度", lambda r: text(r["period"])),
        ("参考日", lambda r: Cell(r["period_end"], "date")),
        ("原因代码", lambda r: text(r["reason"])),
        ("原因", lambda r: text(FOLLOW_UP_REASONS.get(r["reason"], (r["reason"],))[0])),
        ("对应指标", lambda r: text(ind.name(FOLLOW_UP_REASONS.get(r["reason"], ("", ""))[1]))),
        (
            "接收方类型",
            lambda r: text(RECIPIENT_TYPES.get(r["recipient_type"], r["recipient_type"])),
        ),
        ("接收方代码", lambda r: text(r["recipient_code"])),
        ("接收方名称", lambda r: text(r["recipient_name"])),
        ("儿童数", lambda r: Cell(r["children"], "int", r["children_suppressed"])),
    ]


def _backlog_table(backlog: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    """The protected backlog with each period's reference date, in reading order."""
    ends = values.group_by("period").agg(pl.col("period_end").max())
    order = {reason: i for i, reason in enumerate(FOLLOW_UP_REASONS)}
    return (
        backlog.join(ends, on="period", how="left")
        .with_columns(_order=pl.col("reason").replace_strict(order, default=len(order)))
        .sort("period", "_order", "recipient_type", "recipient_code")
        .drop("_order")
    )


def export_tables(data: Published, k: int) -> dict[str, Table]:
    """Sheet name -> (columns, suppressed rows) of every data table exported."""
    scorecard = data.protected_scorecard(k).sort("period", "target_code")
    values = data.protected_values(k).sort(
        "period", "indicator_code", pl.col("scope_level") != "district", "scope_code"
    )
    tables = {
        "目标达成": (_scorecard_columns(data.indicators), scorecard),
        "指标值": (_value_columns(data.indicators), values),
    }
    streets = data.protected_streets(k)
    if streets is not None:
        assessment, ranking = streets
        tables[STREETS] = (
            _assessment_columns(data.indicators),
            assessment.sort("period", "street_code", "target_code"),
        )
        tables["街道排名"] = (_ranking_columns(), ranking.sort("period", "rank"))
    backlog = data.protected_backlog(k)
    if backlog is not None:
        tables[BACKLOG] = (
            _backlog_columns(data.indicators),
            _backlog_table(backlog, data.indicator_values),
        )
    return tables


def write_exports(
    out_dir: Path,
    settings: Settings,
    published: Path | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[Path]:
    """Write `评估数据.xlsx` (说明, then one sheet per table) and one CSV per table into
    `out_dir`; the published file is by default the settings' warehouse. Written whole or
    not at all: ExportFolderError (one line) when `out_dir` cannot take them."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportFolderError(f"--out {out_dir} exists and is not a folder: name a folder")
    data = read_published(published or settings.warehouse_path)
    k = settings.small_cell_k
    tables = export_tables(data, k)
    period = data.as_of_period
    as_of = AsOf(
        district_name=settings.district_name,
        period=period,
        period_end=data.indicator_values.filter(pl.col("period") == period)["period_end"].max(),
        k=k,
        source_file=data.path.name,
        generated_at=f"{local_time(datetime.now(UTC), timezone)}（{timezone}）",
    )
    with _staged(out_dir) as folder:
        written = [write_workbook(folder / WORKBOOK, tables, as_of, data.indicators)]
        for sheet, table in tables.items():
            written.append(_write_csv(folder / f"{sheet}.csv", table))
    return [out_dir / path.name for path in written]


class ExportFolderError(ValueError):
    """--out cannot take the exports; the message is one line naming it."""


@contextlib.contextmanager
def _staged(out_dir: Path) -> Iterator[Path]:
    """A hidden folder the exports are written into, moved into `out_dir` when complete; on
    any failure it is removed, and so is every folder made for it."""
    exists = out_dir.is_dir()
    # The folders that --out needs and that are not there yet, outermost first.
    missing = [] if exists else [p for p in (out_dir, *out_dir.parents) if not p.exists()][::-1]
    stage = (out_dir if exists else out_dir.parent) / f".{out_dir.name}.{os.getpid()}.tmp"
    try:
        try:
            for folder in missing[:-1]:
                folder.mkdir()
            stage.mkdir()
        except OSError as error:
            raise ExportFolderError(
                f"--out {out_dir} cannot be written ({error.strerror}): name a folder you can write"
            ) from None
        yield stage
        if exists:
            for path in stage.iterdir():
                os.replace(path, out_dir / path.name)
            stage.rmdir()
        else:
            stage.rename(out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        for folder in reversed(missing[:-1]):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _write_csv(path: Path, table: Table) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([header for header, _ in table[0]])
        writer.writerows([cell.text() for cell in cells] for cells in grid(table))
    return path
