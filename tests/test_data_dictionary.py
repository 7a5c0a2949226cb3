"""The data dictionary (pipelines/report/dictionary.py) of a hand-made published file with
comments, and the report's link to it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from pipelines.report.dictionary import DICTIONARY_FILE, write_dictionary
from pipelines.report.render import write_report
from tests.test_report_fixtures import settings_for, write_published


class _Page(HTMLParser):
    """Per table section: its comment and its rows of cells; per indicator: its fields."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.indicators: dict[str, list[tuple[str, str]]] = {}
        self._section: dict | None = None
        self._indicator: str | None = None
        self._text: list[str] | None = None
        self._row: list[str] | None = None
        self._term: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._section = self.sections.setdefault(attrs["id"], {"rows": []})
        elif tag == "h3" and attrs.get("id", "").startswith("indicator-"):
            self._indicator = attrs["id"].removeprefix("indicator-")
            self.indicators[self._indicator] = []
        elif tag == "tr" and self._section is not None:
            self._row = []
        elif tag in ("td", "dt", "dd") or (
            tag == "p" and "table-comment" in attrs.get("class", "")
        ):
            self._text = []

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        text = "".join(self._text or [])
        if tag == "section":
            self._section = None
        elif tag == "p" and self._text is not None and self._section is not None:
            self._section["comment"], self._text = text, None
        elif tag == "td" and self._row is not None:
            self._row.append(text)
            self._text = None
        elif tag == "tr" and self._row:
            self._section["rows"].append(self._row)
            self._row = None
        elif tag == "dt":
            self._term, self._text = text, None
        elif tag == "dd" and self._indicator:
            self.indicators[self._indicator].append((self._term, text))
            self._text = None


def _published(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA audit; CREATE SCHEMA quality")
    con.execute(
        "CREATE TABLE marts.indicators AS FROM (VALUES"
        " ('slots', 2, '每社区托位数', '托位', '社区', 'slots_per_community',"
        "  'district,street', '托育机构', '≥10', 'slots at D', 'communities at D'),"
        " ('filing', 1, '建档率', '已建档儿童', '儿童', 'ratio',"
        "  'district,street,community', '出生登记、儿童健康档案', '100%',"
        "  'children with an archive dated <= D', NULL)"
        ") t(indicator_code, plan_order, name_zh, numerator_zh, denominator_zh, unit,"
        " scope_levels, sources_zh, target_zh, numerator_definition, denominator_definition)"
    )
    con.execute(
        "CREATE TABLE marts.indicator_values (indicator_code VARCHAR, value DOUBLE);"
        "INSERT INTO marts.indicator_values VALUES ('filing', 0.5), ('filing', 1), ('slots', 3)"
    )
    con.execute("CREATE TABLE audit.quarantine (reason_code VARCHAR)")
    con.execute("CREATE VIEW quality.check_status_latest AS SELECT true AS passed")
    comments = {
        "TABLE marts.indicators": "指标定义。Indicator definitions.",
        "TABLE marts.indicator_values": "指标值。**Grain: one row** per `indicator_code`.",
        "TABLE audit.quarantine": "隔离行。Rows <script>alert(1)</script> & co.",
        "VIEW quality.check_status_latest": "最新结果。Latest results.",
        "COLUMN marts.indicator_values.indicator_code": "指标代码。Indicator code.",
        "COLUMN marts.indicator_values.value": "数值 (0..1)。The value, `null` if 0/0.",
        "COLUMN audit.quarantine.reason_code": "原因代码。Reason code.",
    }
    for target, text in comments.items():
        con.execute(f"COMMENT ON {target} IS '{text}'")
    con.close()
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[str, _Page]:
    root = tmp_path_factory.mktemp("dictionary")
    out = write_dictionary(_published(root / "yiyu.duckdb"), root / "site" / DICTIONARY_FILE)
    html = out.read_text(encoding="utf-8")
    parsed = _Page()
    parsed.feed(html)
    return html, parsed


def test_one_section_per_table_in_the_evaluators_order_with_its_comment_and_rows(page):
    html, parsed = page
    assert list(parsed.sections) == [
        "marts.indicator_values",
        "marts.indicators",
        "audit.quarantine",
        "quality.check_status_latest",
    ]
    assert parsed.sections["marts.indicators"]["comment"] == "指标定义。Indicator definitions."
    assert parsed.sections["quality.check_status_latest"]["comment"] == "最新结果。Latest results."
    assert "表 / table，3 行 / rows" in html  # marts.indicator_values
    assert "视图 / view，1 行 / rows" in html


def test_columns_with_their_types_and_comments(page):
    _, parsed = page
    assert parsed.sections["marts.indicator_values"]["rows"] == [
        ["indicator_code", "VARCHAR", "指标代码。Indicator code."],
        ["value", "DOUBLE", "数值 (0..1)。The value, null if 0/0."],
    ]
    assert parsed.sections["audit.quarantine"]["rows"] == [
        ["reason_code", "VARCHAR", "原因代码。Reason code."]
    ]
    assert parsed.sections["quality.check_status_latest"]["rows"] == [["passed", "BOOLEAN", ""]]


def test_comments_are_escaped_and_their_code_and_bold_marked_up(page):
    html, _ = page
    assert "<script" not in html
    assert "Rows &lt;script&gt;alert(1)&lt;/script&gt; &amp; co." in html
    assert "指标值。<b>Grain: one row</b> per <code>indicator_code</code>." in html


def test_the_indicators_definitions_in_the_plans_order(page):
    _, parsed = page
    assert list(parsed.indicators) == ["filing", "slots"]
    assert parsed.indicators["filing"] == [
        ("名称", "建档率"),
        ("单位 / Unit", "ratio"),
        ("分子", "已建档儿童"),
        ("分母", "儿童"),
        ("Numerator", "children with an archive dated <= D"),
        ("范围层级 / Scope levels", "district,street,community"),
        ("数据来源 / Sources", "出生登记、儿童健康档案"),
        ("试点目标 / Target", "100%"),
    ]
    assert ("Denominator", "communities at D") in parsed.indicators["slots"]


def test_the_page_is_self_contained_and_links_back_to_the_report(page):
    html, _ = page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html
    assert '<a href="report.html">' in html


def test_the_report_links_to_the_dictionary_beside_it(tmp_path):
    published = write_published(tmp_path / "yiyu.duckdb")
    html = write_report(tmp_path / "report.html", settings_for(published)).read_text("utf-8")
    assert f'<a href="{DICTIONARY_FILE}">数据字典</a>' in html
    assert DICTIONARY_FILE == "data_dictionary.html"
