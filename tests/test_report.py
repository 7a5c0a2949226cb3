"""The evaluators' report: contents, offline rendering in headless Chromium, the Dagster asset."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import REPO_ROOT
from pipelines.defs.report import defs, evaluation_report
from pipelines.report.published import read_published
from pipelines.report.render import render, write_report
from tests.test_report_fixtures import indicator_values, settings_for, write_published

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
MAX_BYTES = 1_500_000
# Pairs of text labels of one chart whose boxes, as the browser draws them, intersect.
OVERLAPS_JS = """() => {
  const found = [];
  for (const svg of document.querySelectorAll('.chart svg')) {
    const boxes = [...svg.querySelectorAll('text')]
      .map(t => [t.textContent, t.getBoundingClientRect()])
      .filter(([, r]) => r.width > 0 && r.height > 0);
    boxes.forEach(([ta, a], i) => boxes.slice(i + 1).forEach(([tb, b]) => {
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
        found.push(`${svg.id}: ${ta} / ${tb}`);
    }));
  }
  return found;
}"""


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
    return write_report(root / "report.html", settings_for(published))


def test_yiyu_report_writes_the_report_of_the_configured_warehouse(report, tmp_path, monkeypatch):
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(report.parent / "warehouse" / "yiyu.duckdb"))
    monkeypatch.setenv("YIYU_TIMEZONE", "Europe/Berlin")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    dictionary = out.with_name("data_dictionary.html")  # written beside it, linked from it
    assert result.output.split() == [str(out), str(dictionary)]
    assert 'href="report.html"' in dictionary.read_text(encoding="utf-8")
    html = out.read_text(encoding="utf-8")
    assert _tables(html) == _tables(report.read_text(encoding="utf-8"))
    assert '<b id="as-of-period">2023Q2</b>' in html
    assert "最近一次检查 2023-07-02 04:00（Europe/Berlin）" in html


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
    html = write_report(tmp_path / "r.html", settings_for(published)).read_text(encoding="utf-8")
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


def test_self_contained_static_svg_charts(report):
    html = report.read_text(encoding="utf-8")
    assert len(html.encode()) <= MAX_BYTES
    # Nothing to run and nothing to fetch: charts are inline SVG whose labels are text.
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert len(re.findall(r'<svg id="(?:trend|street)-chart-\d+"', html)) == CHARTS
    assert html.count('class="definition"') == CHARTS
    assert re.search(r"<text [^>]*>目标 100\.0%</text>", html)  # the target, in a legend


def test_report_without_quality_history_says_so(tmp_path):
    published = write_published(tmp_path / "yiyu.duckdb", with_quality=False)
    html = write_report(tmp_path / "r.html", settings_for(published)).read_text(encoding="utf-8")
    assert "没有数据质量检查历史" in html and 'id="quality-table"' not in html


def test_time_stamps_in_the_configured_zone(tmp_path):
    data = read_published(write_published(tmp_path / "yiyu.duckdb"))
    moment = datetime(2023, 7, 1, 2, 0, tzinfo=UTC)
    html = render(data, {}, 5, "北仑区", generated_at=moment)
    assert '<span id="generated-at">2023-07-01 10:00（Asia/Shanghai）</span>' in html
    # The latest check ran at 2023-07-02 02:00 UTC (naive in the file, as stored).
    assert "最近一次检查 2023-07-02 10:00（Asia/Shanghai）" in html
    berlin = render(data, {}, 5, "北仑区", generated_at=moment, timezone="Europe/Berlin")
    assert "2023-07-01 04:00（Europe/Berlin）" in berlin
    assert "最近一次检查 2023-07-02 04:00（Europe/Berlin）" in berlin


def test_a_series_that_skips_a_suppressed_quarter_says_so(tmp_path):
    # 2023Q1: all but 3 of the district's staff certified: too few to show, the value hides.
    values = indicator_values().with_columns(
        numerator=pl.when(
            (pl.col("indicator_code") == "staff_certification_rate")
            & (pl.col("period") == "2023Q1")
            & (pl.col("scope_level") == "district")
        )
        .then(pl.col("denominator") - 3)
        .otherwise(pl.col("numerator"))
    )
    published = write_published(tmp_path / "yiyu.duckdb", values=values)
    html = write_report(tmp_path / "r.html", settings_for(published)).read_text(encoding="utf-8")
    staff = html[html.index("从业人员持证率 季度趋势</figcaption>") :]
    staff = staff[: staff.index("</figure>")]
    assert "注: 2023Q1 的全区数值已抑制（小单元，见方法说明），折线在这些季度中断。" in staff
    assert re.search(r"<text [^>]*>已抑制</text>", staff)  # marked in the gap itself
    # The other trends skip nothing and carry no note.
    assert html.count("折线在这些季度中断。") == 1


@dataclass
class Rendered:
    """What headless Chromium shows of a report, and what it asked for."""

    requests: list[str]
    errors: list[str]
    scorecard_rows: list[tuple[str, str]]  # (row class, row text)
    badges: list[str]
    graphs: int
    graphs_drawn: int  # charts with a visible box and text labels
    labels: int  # text elements in the charts
    overlaps: list[str]  # "chart id: label / label" for every two labels that intersect
    chart_titles: list[str]
    headings: list[str]
    suppressed_marks: int


def render_offline(report: Path, screenshot: Path, pdf: Path | None = None) -> Rendered:
    """Open the report from file:// with every other request recorded and refused; print it
    to `pdf` (A4) when given."""
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
        rows = page.locator("#scorecard-table tbody tr")
        rendered = Rendered(
            requests=requests,
            errors=errors,
            scorecard_rows=[
                (rows.nth(i).get_attribute("class"), rows.nth(i).inner_text())
                for i in range(rows.count())
            ],
            badges=page.locator("#scorecard-table .badge").all_inner_texts(),
            graphs=page.locator(".chart svg").count(),
            graphs_drawn=page.evaluate(
                "[...document.querySelectorAll('.chart svg')].filter(s =>"
                " s.getBoundingClientRect().height > 100 && s.querySelector('text')).length"
            ),
            labels=page.locator(".chart svg text").count(),
            overlaps=page.evaluate(OVERLAPS_JS),
            chart_titles=page.locator(".chart-title").all_inner_texts(),
            headings=page.locator("h1, h2").all_inner_texts(),
            suppressed_marks=page.get_by_text("已抑制", exact=True).count(),
        )
        screenshot.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
        if pdf is not None:
            page.pdf(path=str(pdf), format="A4", print_background=True)
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
    assert shown.graphs == shown.graphs_drawn == CHARTS
    # Every chart has tick labels, a legend and value labels; none of them touch.
    assert shown.labels > CHARTS * 8
    assert shown.overlaps == []
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
