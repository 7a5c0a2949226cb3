"""A withdrawn file is named (contract section 7): a file ingested before and gone from the
landing folder leaves the ingested rows, and keeps an audit row with status `withdrawn` and
the date its absence was first noticed, with no rows (its equation still holds)."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb

from pipelines.config import REPO_ROOT
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.sources import SOURCES

KEY = b"withdrawn-test-key-not-for-production-0001"


def _audit(con) -> list[tuple]:
    return con.execute(
        "SELECT file, status, withdrawn_on, rows_read, rows_loaded + rows_quarantined"
        " + rows_superseded FROM audit.file_audit ORDER BY file"
    ).fetchall()


def test_a_withdrawn_file_keeps_an_audit_row_with_the_day_it_was_noticed(tmp_path):
    staff = tmp_path / "staff"
    shutil.copytree(REPO_ROOT / "raw" / "staff", staff)
    files = sorted(p.relative_to(staff).as_posix() for p in staff.rglob("*.*"))
    con = duckdb.connect(str(tmp_path / "work.duckdb"))

    def ingest(today: date) -> None:
        ingest_source(
            SOURCES["staff"], staff, con, cache_dir=tmp_path / "cache", key=KEY, today=today
        )

    ingest(date(2024, 1, 10))
    loaded = con.execute("SELECT count(*) FROM ingested.staff").fetchone()[0]
    gone = staff / files[0]
    kept = gone.read_bytes()
    gone.unlink()

    ingest(date(2024, 1, 11))
    rows = _audit(con)
    assert rows[0] == (files[0], "withdrawn", date(2024, 1, 11), 0, 0)
    assert all(status != "withdrawn" for _, status, *_ in rows[1:])
    assert all(read == counted for *_, read, counted in rows)  # every equation holds
    # The rows loaded are those of the files still delivered.
    assert con.execute(
        "SELECT (SELECT count(*) FROM ingested.staff) = sum(rows_loaded) FROM audit.file_audit"
    ).fetchall() == [(True,)]

    ingest(date(2024, 1, 12))  # still gone: noticed on the first day, not again
    assert _audit(con)[0][1:3] == ("withdrawn", date(2024, 1, 11))

    gone.write_bytes(kept)  # delivered again: loaded as before
    ingest(date(2024, 1, 13))
    assert _audit(con)[0][1:3] == ("loaded", None)
    assert con.execute("SELECT count(*) FROM ingested.staff").fetchone()[0] == loaded


def test_an_audit_table_of_the_earlier_layout_gains_the_column(tmp_path):
    staff = tmp_path / "staff"
    shutil.copytree(REPO_ROOT / "raw" / "staff", staff)
    con = duckdb.connect(str(tmp_path / "work.duckdb"))
    ingest_source(SOURCES["staff"], staff, con, cache_dir=tmp_path / "cache", key=KEY)
    con.execute("ALTER TABLE audit.file_audit DROP COLUMN withdrawn_on")
    ingest_source(SOURCES["staff"], staff, con, cache_dir=tmp_path / "cache", key=KEY)
    assert {s for (s,) in con.execute("SELECT status FROM audit.file_audit").fetchall()} == {
        "loaded"
    }
