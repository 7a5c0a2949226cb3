"""The follow-up worklists built by dbt (contract section 8) on real refreshes: each reason's
rows close exactly its indicator's gap for every scope and period, the rows stay in the working
state, and the published backlog counts them.

The identity is computed here from the two tables alone (the reason -> indicator map written
out below, the scopes from the rows' own street and community), not through the project's
models: a wrong placement, a lost or doubled row shows as a cell that differs.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from pipelines.config import REPO_ROOT
from tests.processes import refresh

pytestmark = pytest.mark.slow

YIYU = str(Path(sys.executable).with_name("yiyu"))
CLOSES = {
    "no_archive": "record_filing_rate",
    "no_check_in_year": "health_management_rate",
    "behind_schedule": "systematic_management_rate",
    "enrolled_without_entry_check": "enrollment_check_rate",
}


def _rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _gaps(published: Path) -> dict[tuple, int]:
    """(reason, scope_level, scope_code, period) -> denominator - numerator, every cell."""
    by_indicator = {indicator: reason for reason, indicator in CLOSES.items()}
    cells = _rows(
        published,
        "SELECT indicator_code, scope_level, scope_code, period, numerator, denominator "
        "FROM marts.indicator_values",
    )
    return {
        (by_indicator[code], level, scope, period): denominator - numerator
        for code, level, scope, period, numerator, denominator in cells
        if code in by_indicator
    }


def _row_counts(work: Path, district_code: str) -> Counter:
    """(reason, scope_level, scope_code, period) -> worklist rows, counted in Python."""
    counts: Counter = Counter()
    for reason, period, street, community in _rows(
        work, "SELECT reason, period, street_code, community_code FROM worklist.follow_up_rows"
    ):
        counts[(reason, "district", district_code, period)] += 1
        if street is not None:
            counts[(reason, "street", street, period)] += 1
        if community is not None:
            counts[(reason, "community", community, period)] += 1
    return counts


def assert_rows_close_the_gaps(warehouse: Path) -> Counter:
    published, work = warehouse / "yiyu.duckdb", warehouse / "work.duckdb"
    gaps = _gaps(published)
    [(district_code,)] = _rows(
        published,
        "SELECT DISTINCT scope_code FROM marts.indicator_values WHERE scope_level = 'district'",
    )
    counts = _row_counts(work, district_code)
    assert set(counts) <= set(gaps), "rows in a scope the indicators do not report"
    differing = {cell: (gap, counts[cell]) for cell, gap in gaps.items() if gap != counts[cell]}
    assert not differing, list(differing.items())[:10]
    # Every reason has rows and cells of every level: the identity is not held by empty tables.
    for reason in CLOSES:
        for level in ("district", "street", "community"):
            assert sum(n for (r, lv, _, _), n in counts.items() if (r, lv) == (reason, level))
    return counts


def assert_rows_are_whole(work: Path) -> None:
    """What each row carries follows from its reason and handle kind (contract section 8)."""
    bad = _rows(
        work,
        """
        SELECT reason, handle_kind, count(*) FROM worklist.follow_up_rows
        WHERE (handle_kind = 'none') != (handle_key IS NULL)
           OR (handle_kind = 'archive_no') != (handle_facility_code IS NOT NULL)
           OR (reason = 'behind_schedule') != (milestones_due IS NOT NULL)
           OR (reason = 'behind_schedule' AND checks_done >= milestones_due)
           OR (reason = 'enrolled_without_entry_check')
              != (recipient_type = 'institution' AND handle_kind = 'enrollment_no')
           OR recipient_code IS NULL OR recipient_name IS NULL OR row_key IS NULL
           OR (recipient_type = 'unassigned') != (recipient_code = 'unassigned')
        GROUP BY ALL
        """,
    )
    assert not bad, bad
    [(duplicates,)] = _rows(
        work,
        "SELECT count(*) FROM (SELECT period, reason, row_key FROM worklist.follow_up_rows "
        "GROUP BY ALL HAVING count(*) > 1)",
    )
    assert duplicates == 0


def assert_backlog_published_rows_not(warehouse: Path) -> None:
    published, work = warehouse / "yiyu.duckdb", warehouse / "work.duckdb"
    relations = _rows(published, "SELECT table_schema, table_name FROM information_schema.tables")
    schemas = {schema for schema, _ in relations}
    assert "worklist" not in schemas and "marts" in schemas
    worklist_models = {p.stem for p in (REPO_ROOT / "dbt_project/models/worklists").glob("*.sql")}
    assert {"follow_up_rows", "follow_up_cases"} <= worklist_models
    assert not {name for _, name in relations} & worklist_models
    backlog = Counter()
    for period, code, kind, reason, children in _rows(
        published,
        "SELECT period, recipient_code, recipient_type, reason, children "
        "FROM marts.follow_up_backlog",
    ):
        backlog[(period, code, kind, reason)] += children
    rows = Counter(
        {
            (period, code, kind, reason): n
            for period, code, kind, reason, n in _rows(
                work,
                "SELECT period, recipient_code, recipient_type, reason, count(*) "
                "FROM worklist.follow_up_rows GROUP BY ALL",
            )
        }
    )
    assert backlog == rows and sum(rows.values()) > 0


def test_sample_worklists_close_every_gap(sample_refresh):
    warehouse = sample_refresh.published.parent
    assert_rows_close_the_gaps(warehouse)
    assert_rows_are_whole(warehouse / "work.duckdb")
    assert_backlog_published_rows_not(warehouse)


def test_sample_worklists_reach_their_centres(sample_refresh):
    """The shipped sample's registers name a centre for every child: every child row goes
    to a health facility of the register, and a child of unknown residence to the district's
    maternal and child health hospital."""
    work = sample_refresh.published.parent / "work.duckdb"
    recipients = _rows(
        work,
        """
        SELECT rows_.community_code IS NULL, facilities.facility_type, count(*)
        FROM worklist.follow_up_rows AS rows_
        LEFT JOIN ingested.health_facilities AS facilities
            ON rows_.recipient_code = facilities.facility_code
        WHERE rows_.reason != 'enrolled_without_entry_check'
        GROUP BY ALL
        """,
    )
    kinds = {(unknown, kind) for unknown, kind, _ in recipients}
    assert (False, "community_health_center") in kinds
    assert (False, None) not in kinds and (True, None) not in kinds
    assert {kind for unknown, kind in kinds if unknown} <= {"maternal_child_hospital"}


def test_30k_delivery_worklists_close_every_gap(tmp_path):
    raw = tmp_path / "raw"
    subprocess.run(
        [YIYU, "sample", "--children", "30000", "--seed", "7", "--out", str(raw)],
        check=True,
        capture_output=True,
    )
    refresh(tmp_path, raw)
    warehouse = tmp_path / "warehouse"
    counts = assert_rows_close_the_gaps(warehouse)
    assert sum(counts.values()) > 10_000
    assert_rows_are_whole(warehouse / "work.duckdb")
    assert_backlog_published_rows_not(warehouse)
