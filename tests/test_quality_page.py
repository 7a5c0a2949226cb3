"""The run's quality page: failed checks first, one table per dataset, every value escaped."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.quality.history import ensure_tables
from pipelines.quality.report import write_run_report


def test_page_lists_failed_checks_first_and_escapes_values(tmp_path: Path) -> None:
    con = duckdb.connect()
    ensure_tables(con)
    con.execute(
        "insert into quality.check_results values"
        " ('r1', TIMESTAMP '2026-01-01 02:00', 'row_count', 'births', 'blocking', false,"
        "  '<script>0</script>', '>= 1', 'new', 'completeness', 'all rows'),"
        " ('r1', TIMESTAMP '2026-01-01 02:00', 'sex_codes', 'staff', 'warn', true,"
        "  '1', '1', 'ok', 'conformance', 'sample'),"
        " ('r0', TIMESTAMP '2025-12-31 02:00', 'other_run', 'staff', 'warn', false,"
        "  '1', '1', 'new', 'conformance', 'sample')"
    )
    page = write_run_report(con, "r1", tmp_path).read_text(encoding="utf-8")

    assert (tmp_path / "quality" / "latest.html").read_text(encoding="utf-8") == page
    assert "2 checks, 1 failed\n(1 blocking)" in page
    assert "<script>" not in page and "&lt;script&gt;0&lt;/script&gt;" in page
    assert "other_run" not in page
    failed = page.index("<h2>Failed checks</h2>")
    assert failed < page.index("<h2>births</h2>") < page.index("<h2>staff</h2>")
    assert page.count('class="fail-blocking"') == 2  # in the failed table and in births'
