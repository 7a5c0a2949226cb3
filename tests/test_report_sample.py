"""The report of the shipped sample: the real refresh (`yiyu refresh`, whose last asset writes
the report) and `yiyu export`, checked against the published marts it read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines.config import REPO_ROOT
from tests.test_report import render_offline
from tests.test_suppression import disclosures

YIYU = str(Path(sys.executable).with_name("yiyu"))
STATES = {True: "达标", False: "未达标", None: "无数据"}


@pytest.fixture(scope="module")
def refreshed(sample_refresh) -> Path:
    root = sample_refresh.root
    result = subprocess.run(
        [YIYU, "export", "--out", str(root / "export")],
        env=sample_refresh.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return root


def _marts(root: Path, table: str) -> pl.DataFrame:
    con = duckdb.connect(str(root / "warehouse" / "yiyu.duckdb"), read_only=True)
    try:
        return con.sql(f"select * from marts.{table}").pl()
    finally:
        con.close()


@pytest.mark.slow  # a subprocess refresh of the shipped sample
def test_report_of_the_sample_renders_offline(refreshed):
    report = refreshed / "warehouse" / "report.html"  # written by the evaluation_report asset
    values = _marts(refreshed, "indicator_values")
    as_of = values.sort("period_end")["period"][-1]
    scorecard = _marts(refreshed, "evaluation_scorecard").filter(pl.col("period") == as_of)
    with_streets = values.filter(
        (pl.col("period") == as_of)
        & (pl.col("scope_level") == "street")
        & pl.col("denominator").is_not_null()
    )
    charts = values["indicator_code"].n_unique() + with_streets["indicator_code"].n_unique()

    shown = render_offline(report, REPO_ROOT / "test-artifacts" / "report.png")

    assert shown.requests == [report.as_uri()]
    assert shown.errors == []
    assert len(shown.scorecard_rows) == scorecard.height == 10
    for target in scorecard.iter_rows(named=True):
        (row,) = [text for _, text in shown.scorecard_rows if target["target_zh"] in text]
        assert STATES[target["met"]] in row or "已抑制" in row
    assert shown.graphs == shown.graphs_drawn == charts
    assert shown.overlaps == []
    assert "婴幼儿健康档案建档率 季度趋势" in shown.chart_titles
    assert "一、试点目标达成情况" in shown.headings and "七、数据覆盖与关联质量" in shown.headings
    assert any(h.startswith("五、街道评估与排名") for h in shown.headings)
    assert any(h.startswith("六、随访清单积压") for h in shown.headings)


@pytest.mark.slow  # a subprocess refresh of the shipped sample
def test_exports_of_the_sample_disclose_no_small_cell(refreshed):
    sheet = openpyxl.load_workbook(refreshed / "export" / "评估数据.xlsx")["指标值"]
    header, *rows = [[c.value for c in r] for r in sheet.iter_rows()]
    levels = {"区": "district", "街道": "street"}

    def cell(value):
        return None if value in ("已抑制", "无数据") else value

    published = pl.DataFrame(
        [
            {
                "indicator_code": r[header.index("指标代码")],
                "period": r[header.index("季度")],
                "scope_level": levels[r[header.index("范围级别")]],
                "scope_code": r[header.index("范围代码")],
                "numerator": cell(r[header.index("分子")]),
                "denominator": cell(r[header.index("分母")]),
                "value": cell(r[header.index("数值")]),
            }
            for r in rows
        ],
        infer_schema_length=None,
    )
    assert disclosures(published, 5) == []
    marts = _marts(refreshed, "indicator_values").filter(pl.col("scope_level") != "community")
    assert published.height == marts.height
    joined = published.join(marts, on=["indicator_code", "period", "scope_level", "scope_code"])
    for column in ("numerator", "denominator", "value"):
        shown = joined.filter(pl.col(column).is_not_null())
        assert (shown[column].cast(pl.Float64) - shown[f"{column}_right"]).abs().max() < 1e-9
