"""The street assessment and ranking (contract section 6) in the report: the ranking, each
street's targets and change since the first period, small cells hidden as the indicator
tables hide them. Also the builders of the two tables for the hand-made published file of
`test_report_fixtures.py` (its `write_published` imports them from here)."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.report.published import read_published
from pipelines.report.render import write_report
from tests.test_report import _tables
from tests.test_report_fixtures import (
    DEFINITIONS,
    PERIODS,
    TARGETS,
    settings_for,
    write_published,
)

# The scorecard's target codes, which the street assessment shares.
TARGET_CODES = {"record_filing_rate": "T01"} | {
    code: f"T{i:02d}" for i, code in enumerate(TARGETS, start=2)
}
RATIOS = frozenset(code for code, (unit, *_) in DEFINITIONS.items() if unit == "ratio")


def street_assessment(values: pl.DataFrame) -> pl.DataFrame:
    """marts.street_assessment as contract section 6 defines it: the street rows with a target,
    their value in the first period and the change since."""
    streets = values.filter((pl.col("scope_level") == "street") & pl.col("target").is_not_null())
    first = values.filter(
        (pl.col("scope_level") == "street") & (pl.col("period") == PERIODS[0][0])
    ).select("indicator_code", "scope_code", baseline_value="value")
    return (
        streets.join(first, on=["indicator_code", "scope_code"], how="left")
        .select(
            street_code="scope_code",
            street_name="scope_name",
            period="period",
            target_code=pl.col("indicator_code").replace_strict(TARGET_CODES),
            indicator_code="indicator_code",
            value="value",
            target="target",
            met="target_met",
            baseline_value="baseline_value",
            change=pl.col("value") - pl.col("baseline_value"),
        )
        .sort("period", "street_code", "target_code")
    )


def street_ranking(assessment: pl.DataFrame) -> pl.DataFrame:
    """marts.street_ranking: targets met, then mean change of ratio targets (pp), then code."""
    ratio_change = pl.when(pl.col("indicator_code").is_in(RATIOS)).then(pl.col("change"))
    per_street = assessment.group_by("street_code", "street_name", "period").agg(
        targets_applicable=pl.len().cast(pl.Int32),
        targets_met=pl.col("met").fill_null(False).sum().cast(pl.Int32),
        mean_change_pp=(ratio_change.mean() * 100).round(9),
    )
    ordered = per_street.sort(
        ["period", "targets_met", "mean_change_pp", "street_code"],
        descending=[False, True, True, False],
        nulls_last=True,
    )
    return ordered.with_columns(rank=pl.int_range(1, pl.len() + 1).over("period").cast(pl.Int32))


def street_tables(values: pl.DataFrame) -> dict[str, pl.DataFrame]:
    assessment = street_assessment(values)
    return {
        "marts.street_assessment": assessment,
        "marts.street_ranking": street_ranking(assessment),
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("streets")
    published = write_published(root / "warehouse" / "yiyu.duckdb")
    return write_report(root / "report.html", settings_for(published))


def test_street_assessment_ranks_streets_and_hides_their_small_cells(report):
    html = report.read_text(encoding="utf-8")
    assert '<a href="#assessment">五、街道评估与排名</a>' in html  # in the table of contents
    tables = _tables(html)
    ranking = tables["ranking-table"][1:]
    # 2023Q2 against 2022Q4 (numerators x 0.8), worked by hand from the fixture's figures:
    # 新碶 meets 7 of its 8 targets (filing 94% < 100%); its ratio targets moved +19.0
    # (filing), +19.0, +16.7, 0, 0, +16.0, +18.0 points: a mean of +12.7.
    assert ranking[0] == ["1", "新碶街道", "8", "7", "+12.7"]
    assert [row[1] for row in ranking] == ["新碶街道", "大碶街道", "柴桥街道", "霞浦街道"]
    # 大碶: 3 of 4 staff certified: its staff figures are hidden, and with them its count of
    # targets met and its mean change (either would give the hidden state or change back).
    assert ranking[1][2:] == ["8", "已抑制", "已抑制"]
    # 霞浦 meets 3 of 7 (coverage, staff, parenting) and no cell of its is hidden.
    assert ranking[3] == ["4", "霞浦街道", "7", "3", "+9.2"]
    header, *rows = tables["assessment-table"]
    matrix = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}
    staff = next(h for h in header if h.startswith("从业人员持证率"))
    filing = next(h for h in header if h.startswith("婴幼儿健康档案建档率"))
    slots = next(h for h in header if h.startswith("社区平均托位数"))
    assert matrix["大碶街道"][staff] == "已抑制（已抑制）"
    assert matrix["新碶街道"][staff] == "80.0%（+16.0）"  # 40/50, from 32/50
    assert matrix["新碶街道"][filing] == "94.0%（+19.0）"  # 188/200, from 150/200
    assert matrix["新碶街道"][slots] == "18（+3.6）"  # 360/20, from 288/20
    # No three-in-one centre serves 霞浦 and 柴桥: the filing target does not apply there.
    assert matrix["霞浦街道"][filing] == matrix["柴桥街道"][filing] == "不适用"
    # A street's target value is hidden exactly where its indicator cell is.
    data = read_published(report.parent / "warehouse" / "yiyu.duckdb")
    assessment, _ = data.protected_streets(5)
    key = ["indicator_code", "street_code", "period"]
    cells = data.protected_values(5).filter(pl.col("scope_level") == "street")
    cells = cells.select(key[0], pl.col("scope_code").alias(key[1]), key[2], "value_suppressed")
    joined = assessment.select(*key, "value_suppressed").join(cells, on=key, how="left")
    assert joined.height == assessment.height and joined["value_suppressed"].sum() > 0
    assert (joined["value_suppressed"] == joined["value_suppressed_right"]).all()


def test_report_of_a_file_without_street_tables_says_so(tmp_path):
    published = write_published(tmp_path / "yiyu.duckdb", with_streets=False)
    html = write_report(tmp_path / "r.html", settings_for(published)).read_text(encoding="utf-8")
    assert "发布库中没有街道评估表" in html and 'id="ranking-table"' not in html


def test_quarantine_reasons_of_the_readers_have_labels():
    from pipelines.report.process_sections import _reason_label

    assert _reason_label("malformed_row") == "行格式错误（malformed_row）"
    assert _reason_label("unreadable_file") == "文件无法读取（unreadable_file）"
    assert _reason_label("no_recognisable_header") == "无可识别表头（no_recognisable_header）"
