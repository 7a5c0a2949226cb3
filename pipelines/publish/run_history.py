"""Run history a data engineer can read: per refresh, files, rows by outcome, checks, duration."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb

_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.refresh_runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP,
    published_at TIMESTAMP,
    seconds DOUBLE,
    files INTEGER,
    files_parsed INTEGER,
    files_rejected INTEGER,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    rows_superseded BIGINT,
    checks_run INTEGER,
    checks_failed INTEGER
);
"""


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    query = "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?"
    return con.execute(query, [schema, name]).fetchone()[0] > 0


def record_run(
    con: duckdb.DuckDBPyConnection, run_id: str, instance: dg.DagsterInstance
) -> dict[str, object]:
    stats = instance.get_run_stats(run_id)
    started = datetime.fromtimestamp(stats.start_time or 0, UTC).replace(tzinfo=None)
    now = datetime.now(UTC).replace(tzinfo=None)
    files = con.execute(
        "SELECT count(*), count(*) FILTER (parsed_this_run), count(*) FILTER (status = 'rejected'),"
        " sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_superseded)"
        " FROM audit.file_audit"
    ).fetchone()
    checks = (0, 0)
    if _table_exists(con, "quality", "check_results"):
        checks = con.execute(
            "SELECT count(*), count(*) FILTER (NOT passed) FROM quality.check_results"
            " WHERE run_id = ?",
            [run_id],
        ).fetchone()
    row = {
        "run_id": run_id,
        "started_at": started,
        "published_at": now,
        "seconds": (now - started).total_seconds(),
        "files": files[0],
        "files_parsed": files[1],
        "files_rejected": files[2],
        "rows_read": int(files[3] or 0),
        "rows_loaded": int(files[4] or 0),
        "rows_quarantined": int(files[5] or 0),
        "rows_superseded": int(files[6] or 0),
        "checks_run": checks[0],
        "checks_failed": checks[1],
    }
    con.execute(_DDL)
    con.execute(
        f"INSERT OR REPLACE INTO meta.refresh_runs VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    return row
