"""The report of a realistic published file (the shipped sample's refresh, with submitted
vintages and a revision) opened offline in headless Chromium and printed to A4 PDF: at most
30 pages, every section heading in the printed text, no chart cut across two pages, and no
two text labels of a chart overlapping."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from pipelines.config import REPO_ROOT
from pipelines.report.render import SECTIONS, write_report
from pipelines.report.submissions import submit
from tests.test_report import MAX_BYTES, Rendered, render_offline
from tests.test_report_fixtures import settings_for

pytestmark = pytest.mark.slow
MAX_PAGES = 30


@pytest.fixture(scope="module")
def printed(sample_refresh, tmp_path_factory) -> tuple[Path, Rendered, Path]:
    root = tmp_path_factory.mktemp("print")
    published = root / "warehouse" / "yiyu.duckdb"
    published.parent.mkdir()
    shutil.copy(sample_refresh.published, published)
    con = duckdb.connect(str(published), read_only=True)
    first, last = con.execute(
        "select min(period), max(period) from marts.indicator_values"
    ).fetchone()
    con.close()
    submit(first, published)
    submit(last, published)
    assert submit(last, published).unchanged
    # A register correction after submission: one more affordable slot in every street.
    con = duckdb.connect(str(published))
    con.execute(
        "update marts.indicator_values set numerator = numerator + 1,"
        " value = (numerator + 1) / denominator"
        " where indicator_code = 'affordable_slot_share' and period = ?"
        " and scope_level in ('street', 'district') and numerator < denominator",
        [last],
    )
    con.close()
    report = write_report(root / "report.html", settings_for(published))
    pdf = root / "report.pdf"
    shown = render_offline(report, REPO_ROOT / "test-artifacts" / "report-print.png", pdf)
    return report, shown, pdf


def _pages(pdf: Path) -> int:
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
        return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf.read_bytes()))


def _page_texts(pdf: Path) -> list[str] | None:
    """The text of each printed page (whitespace removed); None without poppler's pdftotext."""
    if not shutil.which("pdftotext"):
        return None
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True)
    return [re.sub(r"\s+", "", page) for page in out.stdout.decode("utf-8").split("\f")]


def test_renders_offline_and_stays_small(printed):
    report, shown, _ = printed
    assert shown.requests == [report.as_uri()]
    assert shown.errors == []
    assert report.stat().st_size <= MAX_BYTES
    assert shown.graphs == shown.graphs_drawn > 0


def test_no_two_labels_of_a_chart_overlap(printed):
    _, shown, _ = printed
    assert shown.labels > shown.graphs * 8  # tick labels, legends and value labels measured
    assert shown.overlaps == []


def test_prints_on_at_most_30_a4_pages_with_every_heading(printed):
    _, shown, pdf = printed
    assert 1 < _pages(pdf) <= MAX_PAGES
    headings = shown.headings[1:]
    assert [h.split("（")[0] for h in headings] == [h.split("（")[0] for h in SECTIONS.values()]
    pages = _page_texts(pdf)
    if pages is None:  # without poppler the headings are checked in the page's DOM only
        return
    printed_text = "".join(pages)
    for heading in [shown.headings[0], *headings]:
        assert re.sub(r"\s+", "", heading) in printed_text


def test_no_chart_is_cut_across_pages(printed):
    _, shown, pdf = printed
    pages = _page_texts(pdf)
    if pages is None:
        pytest.skip("pdftotext (Debian poppler-utils) not installed")
    titles = [re.sub(r"\s+", "", t) for t in shown.chart_titles]
    placed = []
    for page in pages:
        if "目录" in page:  # the table of contents names every chart
            continue
        on_page = sum(page.count(t) for t in titles)
        # Each chart's card names its sources once; the page header names the file's.
        cards = page.count("数据来源") - page.count("数据来源:发布库")
        assert on_page == cards, page[:80]
        placed += [t for t in titles if t in page]
    assert sorted(placed) == sorted(titles)
