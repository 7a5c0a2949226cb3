"""The export log `meta.worklist_exports` (contract section 8): one row per file and reason
written by `yiyu worklists`, appended in the working state and published with the next
refresh (schema meta is published). It holds no identifier: who exported, when, from which
refresh, for which D and recipient, how many rows, and the file's SHA-256."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from pipelines.publish.run_history import os_user

COLUMNS = {
    "exported_at": "TIMESTAMPTZ",
    "os_user": "VARCHAR",
    "host": "VARCHAR",
    "refresh_run_id": "VARCHAR",
    "period_end": "DATE",
    "recipient_code": "VARCHAR",
    "reason": "VARCHAR",
    "rows": "BIGINT",
    "file_sha256": "VARCHAR",
}


@dataclass(frozen=True)
class ExportedFile:
    recipient_code: str
    rows_by_reason: dict[str, int]
    sha256: str


def ensure_log(con: duckdb.DuckDBPyConnection) -> None:
    """meta.worklist_exports, empty until the first export (the refresh creates it too, so
    that the published file always has it)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    ddl = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS meta.worklist_exports ({ddl})")


def append_exports(
    con: duckdb.DuckDBPyConnection,
    files: list[ExportedFile],
    refresh_run_id: str | None,
    period_end: date,
) -> int:
    """Log `files` in one transaction; the rows appended."""
    now = datetime.now(UTC)
    user = os_user()  # named the way meta.refresh_runs names it
    host = socket.gethostname()
    rows = [
        [now, user, host, refresh_run_id, period_end, f.recipient_code, reason, count, f.sha256]
        for f in files
        for reason, count in sorted(f.rows_by_reason.items())
    ]
    ensure_log(con)
    con.execute("BEGIN TRANSACTION")
    try:
        if rows:
            con.executemany(
                f"INSERT INTO meta.worklist_exports ({', '.join(COLUMNS)})"
                f" VALUES ({', '.join('?' * len(COLUMNS))})",
                rows,
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(rows)
