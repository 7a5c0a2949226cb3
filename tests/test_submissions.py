"""Frozen submissions survive a refresh that replaces the published file; revisions are listed
with the files that caused them; an unchanged re-submission writes nothing; `yiyu
submissions` lists every vintage and revision."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.report.published import read_published
from pipelines.report.render import write_report
from pipelines.report.submissions import (
    list_submissions,
    read_vintages,
    revisions,
    submissions_path,
    submit,
)
from tests.test_report import _tables
from tests.test_report_fixtures import (
    Q2,
    file_audit,
    indicator_values,
    settings_for,
    write_published,
)

KEY = ["indicator_code", "scope_level", "scope_code", "period"]
COLUMNS = [*KEY, "numerator", "denominator", "value"]
FIRST, SECOND = datetime(2023, 7, 1, 2, 0, tzinfo=UTC), datetime(2023, 7, 21, 1, 30, tzinfo=UTC)


def _late_delivery() -> dict:
    """Two late health-check files add 5 checked children in street 1 (190 -> 195 of 200)."""
    figures = dict(Q2)
    streets, (num, den) = figures["health_management_rate"]
    figures["health_management_rate"] = ([(195, 200), *streets[1:]], (num + 5, den))
    return figures


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    published = tmp_path / "warehouse" / "yiyu.duckdb"
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(published))  # for the CLI
    write_published(published)
    return published


def _revised(warehouse, k: int = 5) -> pl.DataFrame:
    return revisions(read_published(warehouse), read_vintages(submissions_path(warehouse)), k)


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_vintage_survives_a_late_delivery_and_the_revision_is_listed(warehouse):
    assert submit("2023Q2", warehouse).version == 1
    store = submissions_path(warehouse)
    assert store == warehouse.parent / "submissions.duckdb"
    frozen_before = read_vintages(store)["vintage_indicator_values"].drop("vintage_id")
    marts_q2 = indicator_values().filter(pl.col("period") == "2023Q2")
    assert frozen_before.select(COLUMNS).sort(KEY).equals(marts_q2.select(COLUMNS).sort(KEY))

    # The refresh replaces the published file: a changed figure and two new files.
    audit = file_audit(extra_files=2, when=datetime(2023, 7, 20, 2, 0))
    write_published(warehouse, values=indicator_values(_late_delivery()), audit=audit)

    vintages = read_vintages(store)
    assert (
        vintages["vintage_indicator_values"]
        .drop("vintage_id")
        .sort(KEY)
        .equals(frozen_before.sort(KEY))
    )
    revised = revisions(read_published(warehouse), vintages, k=5)
    assert revised.select("indicator_code", "scope_code", "version", "against").rows() == [
        ("health_management_rate", "330206", 1, None),
        ("health_management_rate", "330206001", 1, None),
    ]
    district, street = revised.sort("scope_level").iter_rows(named=True)
    assert district["before_value"] == pytest.approx(504 / 530)
    assert district["after_value"] == pytest.approx(509 / 530)
    assert street["before_value"] == pytest.approx(190 / 200)
    assert street["after_value"] == pytest.approx(195 / 200)
    assert street["reason"] == (
        "数据更新: 2 个文件在报送后到达"
        "（儿童健康检查: late/checks_late_0.csv、late/checks_late_1.csv）"
    )

    html = write_report(warehouse.parent / "report.html", settings_for(warehouse))
    table = _tables(html.read_text(encoding="utf-8"))["revisions-table"]
    assert table[0] == ["季度", "比较", "指标", "范围", "修订前", "修订后", "原因"]
    assert table[2][:6] == [
        "2023Q2", "版本 1 → 当前", "婴幼儿健康管理率", "街道 新碶街道", "95.0%", "97.5%",
    ]  # fmt: skip
    assert "late/checks_late_1.csv" in table[2][6]


def test_no_revision_without_change_and_files_of_other_sources_are_not_blamed(warehouse):
    submit("2023Q2", warehouse)
    audit = file_audit(extra_files=3)  # late health checks feed no institution indicator
    figures = dict(Q2)
    figures["affordable_slot_share"] = ([(300, 360), (200, 240), (2, 3), (120, 150)], (622, 753))
    write_published(warehouse, values=indicator_values(figures), audit=audit)
    revised = _revised(warehouse)
    assert sorted(revised["scope_code"]) == ["330206", "330206004"]
    assert set(revised["reason"]) == {"报送后无相关新文件：登记信息或计算口径更正"}


def test_replaced_and_withdrawn_files_are_named(warehouse):
    submit("2023Q2", warehouse)
    # The health-check delivery was corrected (new content, same path), the rejected file
    # withdrawn, and the births file re-stamped unchanged (no cause of anything).
    audit = file_audit(when=datetime(2023, 7, 25, 2, 0)).with_columns(
        content_sha256=pl.when(pl.col("file") == "checks_2023q2.csv")
        .then(pl.lit("9" * 64))
        .otherwise(pl.col("content_sha256"))
    )
    audit = audit.filter(pl.col("file") != "checks_bad.csv")
    write_published(warehouse, values=indicator_values(_late_delivery()), audit=audit)
    assert set(_revised(warehouse)["reason"]) == {
        "数据更正: 1 个文件在报送后被替换（儿童健康检查: checks_2023q2.csv）；"
        "数据撤回: 1 个文件在报送后被撤回（儿童健康检查: checks_bad.csv）"
    }


def test_resubmitting_adds_a_version_keeps_the_first_and_lists_what_it_revised(warehouse):
    assert submit("2023Q2", warehouse).version == 1
    write_published(warehouse, values=indicator_values(_late_delivery()))
    second = submit("2023Q2", warehouse)
    assert (second.version, second.unchanged) == (2, False)
    assert submit("2023Q1", warehouse).version == 1
    vintages = read_vintages(submissions_path(warehouse))
    table = vintages["vintages"].sort("vintage_id")
    assert table.select("period", "version").rows() == [("2023Q2", 1), ("2023Q2", 2), ("2023Q1", 1)]
    first = vintages["vintage_indicator_values"].filter(
        (pl.col("vintage_id") == 1)
        & (pl.col("indicator_code") == "health_management_rate")
        & (pl.col("scope_code") == "330206001")
    )
    assert first["numerator"].to_list() == [190]
    # Version 2 revised two cells of version 1; the latest versions match the current marts.
    revised = revisions(read_published(warehouse), vintages, k=5)
    assert revised.select("period", "scope_code", "version", "against").rows() == [
        ("2023Q2", "330206", 1, 2),
        ("2023Q2", "330206001", 1, 2),
    ]
    assert set(revised["reason"]) == {"报送后无相关新文件：登记信息或计算口径更正"}


def test_an_unchanged_resubmission_writes_nothing(warehouse):
    first = submit("2023Q2", warehouse, at=FIRST)
    store = first.store
    before = _sha256(store)
    again = submit("2023Q2", warehouse)
    assert (again.version, again.unchanged) == (1, True)
    assert again.message == "2023Q2 unchanged since version 1: nothing written"
    assert _sha256(store) == before
    # New files that change none of the quarter's figures do not make a version either.
    write_published(warehouse, audit=file_audit(extra_files=2))
    assert submit("2023Q2", warehouse).unchanged
    assert _sha256(store) == before
    # A changed figure does.
    write_published(warehouse, values=indicator_values(_late_delivery()))
    assert submit("2023Q2", warehouse) == type(first)("2023Q2", 2, False, store)
    assert read_vintages(store)["vintages"]["version"].to_list() == [1, 2]


def test_yiyu_submit_says_unchanged(warehouse):
    result = CliRunner().invoke(app, ["submit", "--period", "2023Q2"])
    assert result.exit_code == 0
    store = submissions_path(warehouse)
    assert result.output.strip() == f"2023Q2 submitted as version 1 in {store}"
    before = _sha256(store)
    result = CliRunner().invoke(app, ["submit", "--period", "2023Q2"])
    assert result.exit_code == 0
    assert result.output.strip() == "2023Q2 unchanged since version 1: nothing written"
    assert _sha256(store) == before


def test_unknown_period_is_refused(warehouse):
    with pytest.raises(ValueError, match="2031Q1"):
        submit("2031Q1", warehouse)
    result = CliRunner().invoke(app, ["submit", "--period", "2031Q1"])
    assert result.exit_code == 1 and "2031Q1 is not in the published marts" in result.output
    assert not submissions_path(warehouse).exists()
    result = CliRunner().invoke(app, ["submit", "--period", "2023Q1"])
    assert result.exit_code == 0 and "2023Q1 submitted as version 1" in result.output


def test_a_revision_by_fewer_than_k_people_hides_the_earlier_value(warehouse):
    submit("2023Q2", warehouse)
    figures = dict(Q2)
    streets, (num, den) = figures["health_management_rate"]
    figures["health_management_rate"] = (
        [streets[0], streets[1], (142, 150), streets[3]],
        (num + 2, den),
    )
    write_published(warehouse, values=indicator_values(figures))
    revised = _revised(warehouse)
    # 140 -> 142 of 150: the submitted 93.3% beside the published 150 would show the 2 children.
    assert revised.select("scope_code", "before_value", "before_suppressed").rows() == [
        ("330206", None, True),
        ("330206003", None, True),
    ]
    assert revised["after_value"].to_list() == [
        pytest.approx(506 / 530),
        pytest.approx(142 / 150),
    ]
    # With k = 2 a change of 2 people is no small count: both values are shown.
    shown = _revised(warehouse, k=2)
    assert shown["before_value"].to_list() == [
        pytest.approx(504 / 530),
        pytest.approx(140 / 150),
    ]


def test_a_cell_suppressed_on_both_sides_is_not_listed(warehouse):
    submit("2023Q2", warehouse)
    # Street 2's staff: 3 of 4 certified, then 2 of 4: hidden in the vintage and now.
    figures = dict(Q2)
    streets, (num, den) = figures["staff_certification_rate"]
    figures["staff_certification_rate"] = ([streets[0], (2, 4), *streets[2:]], (num - 1, den))
    write_published(warehouse, values=indicator_values(figures))
    revised = _revised(warehouse)
    # Only the district is listed (its submitted value hidden: it moved by one person).
    assert revised.select("scope_code", "before_suppressed", "after_suppressed").rows() == [
        ("330206", True, False)
    ]


def test_submissions_lists_every_vintage_and_revision(warehouse):
    assert list_submissions(warehouse, 5) == (
        f"no submission yet in {submissions_path(warehouse)} (yiyu submit --period 2023Q2)"
    )
    submit("2023Q2", warehouse, at=FIRST)
    audit = file_audit(extra_files=1, when=datetime(2023, 7, 20, 2, 0))
    write_published(warehouse, values=indicator_values(_late_delivery()), audit=audit)
    submit("2023Q2", warehouse, at=SECOND)
    submit("2023Q1", warehouse, at=SECOND)
    # Then the institutions' register is corrected: street 4's affordable slots 100 -> 120.
    figures = _late_delivery()
    figures["affordable_slot_share"] = ([(300, 360), (200, 240), (2, 3), (120, 150)], (622, 753))
    write_published(warehouse, values=indicator_values(figures), audit=audit)

    listing = list_submissions(warehouse, 5).splitlines()
    late = "数据更新: 1 个文件在报送后到达（儿童健康检查: late/checks_late_0.csv）"
    register = "报送后无相关新文件：登记信息或计算口径更正"
    # The fixture scales numerators by 0.9 in 2023Q1: 542 -> 560 and 90 -> 108 there.
    assert listing == [
        f"{submissions_path(warehouse)} (Asia/Shanghai)",
        "季度 | 版本 | 报送时间 | 报送时参考日 | 状态",
        "2023Q1 | 1 | 2023-07-21 09:30 | 2023-03-31 | 最新",
        "2023Q2 | 1 | 2023-07-01 10:00 | 2023-06-30 | 已由版本 2 更正",
        "2023Q2 | 2 | 2023-07-21 09:30 | 2023-06-30 | 最新",
        "",
        "修订 6 处（小单元已抑制，k = 5）",
        "季度 | 比较 | 指标 | 范围 | 修订前 | 修订后 | 原因",
        f"2023Q1 | 版本 1 → 当前 | 普惠托育率 | 区 北仑区 | 72.0% | 74.4% | {register}",
        f"2023Q1 | 版本 1 → 当前 | 普惠托育率 | 街道 柴桥街道 | 60.0% | 72.0% | {register}",
        f"2023Q2 | 版本 1 → 版本 2 | 婴幼儿健康管理率 | 区 北仑区 | 95.1% | 96.0% | {late}",
        f"2023Q2 | 版本 1 → 版本 2 | 婴幼儿健康管理率 | 街道 新碶街道 | 95.0% | 97.5% | {late}",
        f"2023Q2 | 版本 2 → 当前 | 普惠托育率 | 区 北仑区 | 79.9% | 82.6% | {register}",
        f"2023Q2 | 版本 2 → 当前 | 普惠托育率 | 街道 柴桥街道 | 66.7% | 80.0% | {register}",
    ]

    # The report shows every version, not only the latest of each quarter.
    html = write_report(warehouse.parent / "report.html", settings_for(warehouse))
    tables = _tables(html.read_text(encoding="utf-8"))
    assert [row[:2] for row in tables["vintages-table"][1:]] == [
        ["2023Q1", "1"],
        ["2023Q2", "1"],
        ["2023Q2", "2"],
    ]
    assert len(tables["revisions-table"]) == 1 + 6


def test_yiyu_submissions_prints_the_listing(warehouse):
    result = CliRunner().invoke(app, ["submissions"])
    assert result.exit_code == 0
    assert result.output.strip() == list_submissions(warehouse, 5)
    assert "no submission yet" in result.output
    submit("2023Q2", warehouse, at=FIRST)
    result = CliRunner().invoke(app, ["submissions"])
    assert result.exit_code == 0
    assert result.output.splitlines()[2] == "2023Q2 | 1 | 2023-07-01 10:00 | 2023-06-30 | 最新"
    assert result.output.strip() == list_submissions(warehouse, 5)
