"""The evaluators' report: contents, offline rendering in headless Chromium, the Dagster asset."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import plotly.offline
import polars as pl
import pytest
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import REPO_ROOT
from pipelines.defs.report import defs, evaluation_report
from tests.test_report_fixtures import write_published

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TARGETS_Q2 = {  # target_code -> (shown value, state), worked from the fixture's 2023Q2 figures
    "T01": ("94.0%", "未达标"),  # min(188/200, 95/100) of the three-in-one streets
    "T02": ("95.1%", "达标"),  # 504/530
    "T03": ("79.9%", "未达标"),  # 602/753
    "T04": ("14.2", "未达标"),  # 753/53
    "T05": ("100.0%", "达标"),
    "T06": ("75.0%", "未达标"),  # 3/4 streets with a care station
    "T07": ("31", "达标"),
    "T08": ("2", "达标"),
    "T09": ("80.9%", "达标"),  # 93/115
    "T10": ("92.4%", "达标"),  # 133/144
}
# 12 trend charts + one street comparison per indicator with a denominator (10 of them).
CHARTS = 12 + 10


class _Tables(HTMLParser):
    """Cell texts of the tables with an id (a second, independent reading of the page)."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table is not None:
            self._table[-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


class _Cards(HTMLParser):
    """The definition cards beside the charts: {dt text: dd text} each, in page order."""

    def __init__(self):
        super().__init__()
        self.cards: list[dict[str, str]] = []
        self._tag = self._term = None

    def handle_starttag(self, tag, attrs):
        if tag == "dl" and ("class", "definition") in attrs:
            self.cards.append({})
        self._tag = tag if self.cards and tag in ("dt", "dd") else None

    def handle_endtag(self, tag):
        self._tag = None

    def handle_data(self, data):
        if self._tag == "dt":
            self._term = data.strip()
        elif self._tag == "dd":
            self.cards[-1][self._term] = data.strip()


def _cards(html: str) -> dict[str, dict[str, str]]:
    """The first card of each indicator (its trend chart's), by the card's indicator text."""
    parser = _Cards()
    parser.feed(html)
    cards: dict[str, dict[str, str]] = {}
    for card in parser.cards:
        cards.setdefault(card["指标"], card)
    return cards


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    published = write_published(root / "warehouse" / "yiyu.duckdb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("YIYU_WAREHOUSE_PATH", str(published))
        result = CliRunner().invoke(app, ["report", "--out", str(root / "report.html")])
    assert result.exit_code == 0, result.output
    return root / "report.html"


def test_scorecard_and_sections(report):
    html = report.read_text(encoding="utf-8")
    tables = _tables(html)
    card = {row[0]: row for row in tables["scorecard-table"][1:]}
    assert len(card) == 10
    shown = {
        code: (row[3], row[4])
        for code, row in zip(sorted(TARGETS_Q2), tables["scorecard-table"][1:], strict=True)
    }
    assert shown == TARGETS_Q2
    assert card["三位一体中心服务辖区建档率达100%"][2] == "=100.0%"
    assert "共 10 项目标: 6 项达标，4 项未达标" in html
    # Three-in-one: streets 1 and 2 are served; 2 and 4 are suppressed (see test_suppression).
    assert tables["filing-table"][1:] == [
        ["新碶街道", "是", "188", "200", "94.0%"],
        ["大碶街道", "是", "已抑制", "已抑制", "已抑制"],
        ["霞浦街道", "否", "140", "150", "93.3%"],
        ["柴桥街道", "否", "已抑制", "已抑制", "已抑制"],
    ]
    # Coverage: the two health-check files (one rejected whole) summed by hand.
    coverage = {row[0]: row[1:] for row in tables["coverage-table"][1:]}
    assert coverage["儿童健康检查"] == ["2", "1", "1240", "1180", "60", "0"]
    assert coverage["出生登记"] == ["1", "0", "600", "590", "6", "4"]
    assert tables["quarantine-table"][1:] == [
        ["出生登记", "值无法解析（unparseable_value）", "6"],
        ["儿童健康检查", "超出生理范围（out_of_range）", "20"],
    ]
    assert tables["linkage-table"][0][:3] == ["来源", "记录数", "身份证号关联"]
    # Quality: the latest result of each of the 4 checks (r3 ran births only): 2 failing;
    # one new, one persisting, one resolved.
    assert "各项检查的最新结果: 共 4 项，未通过 2 项" in html
    quality = {row[1]: row[0] for row in tables["quality-table"][1:]}
    assert quality == {
        "archives_date_order": "新出现的失败",
        "checks_height_range": "持续失败",
        "staff_id_valid": "已解决",
    }
    assert "尚无冻结的季度报送" in html
    assert "任何 1 至 4 之间的人数都不公布" in html


def test_definition_cards_come_from_the_published_file(report):
    cards = _cards(report.read_text(encoding="utf-8"))
    assert len(cards) == 12
    assert cards["婴幼儿健康管理率（health_management_rate）"] == {
        "指标": "婴幼儿健康管理率（health_management_rate）",
        "分子": "近一年内至少接受1次健康检查的3岁以下儿童数",
        "分母": "3岁以下儿童数",
        "数据来源": "出生登记、儿童健康档案、儿童健康检查",
        "试点目标": "婴幼儿健康管理率目标",  # the plan target's text in the fixture's scorecard
    }
    # No plan target: the indicator's own target text.
    assert cards["入托健康检查率（enrollment_check_rate）"]["试点目标"] == "无（仅报告）"
    assert cards["入托健康检查率（enrollment_check_rate）"]["数据来源"] == (
        "入托入园、儿童健康检查、托育机构名录"
    )


def test_names_and_units_are_read_from_the_published_file(tmp_path):
    from pipelines.report.render import write_report
    from tests.test_report_fixtures import indicators

    published = write_published(tmp_path / "yiyu.duckdb")
    renamed = indicators().with_columns(
        name_zh=pl.when(pl.col("indicator_code") == "parenting_knowledge_rate")
        .then(pl.lit("<育儿知识>"))
        .otherwise(pl.col("name_zh")),
        # Shown as a plain number once the published unit says it is no ratio.
        unit=pl.when(pl.col("indicator_code") == "parenting_knowledge_rate")
        .then(pl.lit("slots_per_community"))
        .otherwise(pl.col("unit")),
    )
    con = duckdb.connect(str(published))
    con.register("frame", renamed)
    con.execute("create or replace table marts.indicators as select * from frame")
    con.close()
    html = write_report(tmp_path / "r.html", published).read_text(encoding="utf-8")
    card = {row[0]: row for row in _tables(html)["scorecard-table"][1:]}["科学育儿知识普及率目标"]
    assert card[1:4] == ["<育儿知识>", "≥0.9", "0.9"]  # 133/144 with one decimal
    assert "&lt;育儿知识&gt;" in html and "<育儿知识>" not in html


def test_published_file_without_indicator_definitions_says_to_refresh(tmp_path, monkeypatch):
    from pipelines.report.published import PublishedFileError, read_published

    published = write_published(tmp_path / "yiyu.duckdb", with_indicators=False)
    with pytest.raises(PublishedFileError) as refused:
        read_published(published)
    message = str(refused.value)
    assert "\n" not in message
    assert "marts.indicators" in message and "run `yiyu refresh`" in message
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(published))
    result = CliRunner().invoke(app, ["submit", "--period", "2023Q2"])
    assert result.exit_code == 1 and "marts.indicators" in result.output


def test_self_contained_plotly_inlined_once(report):
    html = report.read_text(encoding="utf-8")
    bundle = plotly.offline.get_plotlyjs()
    assert html.count(bundle) == 1
    # Outside the bundle (which names URLs in its own code) the page references nothing.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html.replace(bundle, ""))
    assert html.count('class="plotly-graph-div"') == CHARTS
    assert html.count('class="definition"') == CHARTS


def test_report_without_quality_history_says_so(tmp_path, monkeypatch):
    published = write_published(tmp_path / "yiyu.duckdb", with_quality=False)
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(published))
    from pipelines.report.render import write_report

    html = write_report(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "没有数据质量检查历史" in html and 'id="quality-table"' not in html


@dataclass
class Rendered:
    """What headless Chromium shows of a report, and what it asked for."""

    requests: list[str]
    errors: list[str]
    scorecard_rows: list[tuple[str, str]]  # (row class, row text)
    badges: list[str]
    graphs: int
    graphs_with_svg: int
    chart_titles: list[str]
    headings: list[str]
    suppressed_marks: int


def render_offline(report: Path, screenshot: Path) -> Rendered:
    """Open the report from file:// with every other request recorded and refused."""
    assert shutil.which(CHROMIUM), "Debian chromium missing: apt-get install -y chromium"
    url = report.as_uri()
    requests, errors = [], []

    def record(route):
        requests.append(route.request.url)
        route.continue_() if route.request.url == url else route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", record)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_function(
            "[...document.querySelectorAll('.plotly-graph-div')]"
            ".every(d => d.querySelector('svg.main-svg'))"
        )
        rows = page.locator("#scorecard-table tbody tr")
        rendered = Rendered(
            requests=requests,
            errors=errors,
            scorecard_rows=[
                (rows.nth(i).get_attribute("class"), rows.nth(i).inner_text())
                for i in range(rows.count())
            ],
            badges=page.locator("#scorecard-table .badge").all_inner_texts(),
            graphs=page.locator(".plotly-graph-div").count(),
            graphs_with_svg=page.evaluate(
                "[...document.querySelectorAll('.plotly-graph-div')]"
                ".filter(d => d.querySelector('svg.main-svg g.trace')).length"
            ),
            chart_titles=page.locator(".plotly-graph-div .gtitle").all_text_contents(),
            headings=page.locator("h1, h2").all_inner_texts(),
            suppressed_marks=page.get_by_text("已抑制", exact=True).count(),
        )
        screenshot.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return rendered


def test_renders_offline_in_headless_chromium(report):
    shown = render_offline(report, REPO_ROOT / "test-artifacts" / "report-fixture.png")
    assert shown.requests == [report.as_uri()]
    assert shown.errors == []
    assert len(shown.scorecard_rows) == 10
    row_class, row_text = shown.scorecard_rows[0]
    assert row_class == "unmet" and "三位一体中心服务辖区建档率达100%" in row_text
    assert sorted(shown.badges) == sorted(state for _, state in TARGETS_Q2.values())
    assert shown.graphs == shown.graphs_with_svg == CHARTS
    assert "婴幼儿健康档案建档率 季度趋势" in shown.chart_titles
    assert any(t.startswith("从业人员持证率 街道对比") for t in shown.chart_titles)
    assert "北仑区普惠托育服务试点" in shown.headings[0]
    assert "一、试点目标达成情况" in shown.headings
    assert shown.suppressed_marks > 0


def test_evaluation_report_asset(tmp_path, monkeypatch):
    published = write_published(tmp_path / "warehouse" / "yiyu.duckdb")
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(published))
    assert evaluation_report.group_names_by_key == {dg.AssetKey("evaluation_report"): "report"}
    assert evaluation_report.asset_deps[dg.AssetKey("evaluation_report")] == {
        dg.AssetKey("published_warehouse")
    }
    assert defs.resolve_assets_def("evaluation_report").key == evaluation_report.key
    result = dg.materialize([evaluation_report], resources=defs.resources)
    assert result.success
    html = (tmp_path / "warehouse" / "report.html").read_text(encoding="utf-8")
    assert '<b id="as-of-period">2023Q2</b>' in html
