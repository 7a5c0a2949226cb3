"""Frozen submissions survive a refresh that replaces the published file, and revisions
are listed with their reason."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.report.published import read_published
from pipelines.report.render import write_report
from pipelines.report.submissions import read_vintages, revisions, submissions_path, submit
from tests.test_report_fixtures import Q2, file_audit, indicator_values, write_published

KEY = ["indicator_code", "scope_level", "scope_code", "period"]
COLUMNS = [*KEY, "numerator", "denominator", "value"]


def _late_delivery() -> dict:
    """Two late health-check files add 5 checked children in street 1 (190 -> 195 of 200)."""
    figures = dict(Q2)
    streets, (num, den) = figures["health_management_rate"]
    figures["health_management_rate"] = ([(195, 200), *streets[1:]], (num + 5, den))
    return figures


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    published = tmp_path / "warehouse" / "yiyu.duckdb"
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(published))
    write_published(published)
    return published


def test_vintage_survives_a_late_delivery_and_the_revision_is_listed(warehouse):
    assert submit("2023Q2") == 1
    store = submissions_path()
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
    assert revised.select("indicator_code", "scope_code").rows() == [
        ("health_management_rate", "330206"),
        ("health_management_rate", "330206001"),
    ]
    district, street = revised.sort("scope_level").iter_rows(named=True)
    assert district["submitted_value"] == pytest.approx(504 / 530)
    assert district["current_value"] == pytest.approx(509 / 530)
    assert street["submitted_value"] == pytest.approx(190 / 200)
    assert street["current_value"] == pytest.approx(195 / 200)
    assert street["reason"] == "数据更新: 2 个文件在报送后到达（儿童健康检查 2）"

    out = write_report(warehouse.parent / "report.html")
    html = out.read_text(encoding="utf-8")
    table = html[html.index('id="revisions-table"') :]
    assert "95.0%" in table and "97.5%" in table and "2 个文件在报送后到达" in table


def test_no_revision_without_change_and_files_of_other_sources_are_not_blamed(warehouse):
    submit("2023Q2")
    audit = file_audit(extra_files=3)  # late health checks feed no institution indicator
    figures = dict(Q2)
    figures["affordable_slot_share"] = ([(300, 360), (200, 240), (2, 3), (120, 150)], (622, 753))
    write_published(warehouse, values=indicator_values(figures), audit=audit)
    revised = revisions(read_published(warehouse), read_vintages(submissions_path()), k=5)
    assert sorted(revised["scope_code"]) == ["330206", "330206004"]
    assert set(revised["reason"]) == {"报送后无相关新文件：登记信息或计算口径更正"}


def test_resubmitting_adds_a_version_and_keeps_the_first(warehouse):
    assert submit("2023Q2") == 1
    write_published(warehouse, values=indicator_values(_late_delivery()))
    assert submit("2023Q2") == 2
    assert submit("2023Q1") == 1
    vintages = read_vintages(submissions_path())
    table = vintages["vintages"].sort("vintage_id")
    assert table.select("period", "version").rows() == [("2023Q2", 1), ("2023Q2", 2), ("2023Q1", 1)]
    first = vintages["vintage_indicator_values"].filter(
        (pl.col("vintage_id") == 1)
        & (pl.col("indicator_code") == "health_management_rate")
        & (pl.col("scope_code") == "330206001")
    )
    assert first["numerator"].to_list() == [190]
    # The latest version matches the current marts: nothing to list.
    assert revisions(read_published(warehouse), vintages, k=5).is_empty()


def test_unknown_period_is_refused(warehouse):
    with pytest.raises(ValueError, match="2031Q1"):
        submit("2031Q1")
    result = CliRunner().invoke(app, ["submit", "--period", "2031Q1"])
    assert result.exit_code == 1 and "2031Q1 is not in the published marts" in result.output
    assert not submissions_path().exists()
    result = CliRunner().invoke(app, ["submit", "--period", "2023Q1"])
    assert result.exit_code == 0 and "2023Q1 submitted as version 1" in result.output


def test_a_revision_by_fewer_than_k_people_hides_the_submitted_value(warehouse):
    submit("2023Q2")
    figures = dict(Q2)
    streets, (num, den) = figures["health_management_rate"]
    figures["health_management_rate"] = (
        [streets[0], streets[1], (142, 150), streets[3]],
        (num + 2, den),
    )
    write_published(warehouse, values=indicator_values(figures))
    revised = revisions(read_published(warehouse), read_vintages(submissions_path()), k=5)
    # 140 -> 142 of 150: the submitted 93.3% beside the published 150 would show the 2 children.
    assert revised.select("scope_code", "submitted_value", "submitted_suppressed").rows() == [
        ("330206", None, True),
        ("330206003", None, True),
    ]
    assert revised["current_value"].to_list() == [
        pytest.approx(506 / 530),
        pytest.approx(142 / 150),
    ]
    # With k = 2 a change of 2 people is no small count: both values are shown.
    shown = revisions(read_published(warehouse), read_vintages(submissions_path()), k=2)
    assert shown["submitted_value"].to_list() == [
        pytest.approx(504 / 530),
        pytest.approx(140 / 150),
    ]
