"""The per-file audit of one source, and its rows of the audit tables.

Reconciliation per file: rows_read = rows_loaded + rows_quarantined + rows_superseded.
A file ingested before and gone from the landing folder keeps a row, status `withdrawn`,
with the date its absence was first noticed and no rows (contract section 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl
import pyarrow.parquet as pq

from pipelines.ingest.cache import FileOutcome
from pipelines.ingest.sources import Source

_COUNTED = ("rows_loaded", "rows_quarantined", "rows_superseded")
AUDIT_SCHEMA = {
    "source": pl.String,
    "file": pl.String,
    "content_sha256": pl.String,
    "file_format": pl.String,
    "encoding": pl.String,
    "status": pl.String,
    "reject_reason": pl.String,
    "unknown_columns": pl.String,
    "rows_read": pl.Int64,
    "rows_loaded": pl.Int64,
    "rows_quarantined": pl.Int64,
    "rows_superseded": pl.Int64,
    "first_ingested_at": pl.Datetime("us"),
    "parsed_this_run": pl.Boolean,
    "withdrawn_on": pl.Date,
}


@dataclass
class SourceResult:
    """What ingestion reports; the rows themselves are in `ingested.<source>`."""

    audit: pl.DataFrame
    quarantine: pl.DataFrame
    warnings: pl.DataFrame


def file_audit(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    outcomes: list[FileOutcome],
    quarantine: pl.DataFrame,
) -> pl.DataFrame:
    """One row per file (AUDIT_SCHEMA), its counts from the parse and `unloaded.<source>`."""
    unloaded = con.sql(
        f"SELECT _file AS file, count(*) AS unloaded FROM unloaded.{source.name} GROUP BY _file"
    ).pl()
    quarantined = quarantine.group_by("file").len("rows_quarantined")
    future = (
        quarantine.filter(pl.col("reason_code") == "date_in_future").group_by("file").len("future")
    )
    file_rows = [
        {
            "source": source.name,
            "file": o.file,
            "content_sha256": o.content_sha256,
            "file_format": o.file_format,
            "encoding": o.encoding,
            "status": "rejected" if o.reject_reason else "loaded",
            "reject_reason": o.reject_reason,
            "unknown_columns": ", ".join(o.unknown_columns),
            "rows_read": o.rows_read,
            "rows_parsed_valid": pq.read_metadata(o.valid_path).num_rows,
            "first_ingested_at": o.first_ingested_at,
            "parsed_this_run": o.parsed_this_run,
        }
        for o in outcomes
    ]
    file_schema = {k: v for k, v in AUDIT_SCHEMA.items() if k not in _COUNTED}
    file_schema["rows_parsed_valid"] = pl.Int64
    # Valid rows not loaded were dated after today or superseded by a later row.
    return (
        pl.DataFrame(file_rows, schema=file_schema)
        .join(unloaded, on="file", how="left")
        .join(quarantined, on="file", how="left")
        .join(future, on="file", how="left")
        .with_columns(pl.col("unloaded", "rows_quarantined", "future").fill_null(0).cast(pl.Int64))
        .with_columns(
            rows_loaded=pl.col("rows_parsed_valid") - pl.col("unloaded"),
            rows_superseded=pl.col("unloaded") - pl.col("future"),
            withdrawn_on=pl.lit(None, pl.Date),
        )
        .select(list(AUDIT_SCHEMA))
    )


def _withdrawn(
    con: duckdb.DuckDBPyConnection, source: Source, current: pl.DataFrame, today: date
) -> pl.DataFrame:
    """This source's audit rows of files no longer delivered, as `withdrawn` rows: noticed
    `today` unless noticed before; their counts 0, so the file's equation still holds."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = 'audit' AND table_name = 'file_audit'"
    ).fetchall()
    if not exists[0][0]:
        return pl.DataFrame(schema=AUDIT_SCHEMA)
    con.execute("ALTER TABLE audit.file_audit ADD COLUMN IF NOT EXISTS withdrawn_on DATE")
    con.register("_delivered", current.select("file").to_arrow())
    try:
        gone = con.sql(
            """
            SELECT source, file, content_sha256, file_format, encoding, 'withdrawn' AS status,
                NULL AS reject_reason, '' AS unknown_columns, 0 AS rows_read, 0 AS rows_loaded,
                0 AS rows_quarantined, 0 AS rows_superseded, first_ingested_at,
                false AS parsed_this_run, coalesce(withdrawn_on, ?) AS withdrawn_on
            FROM audit.file_audit
            WHERE source = ? AND file NOT IN (SELECT file FROM _delivered)
            ORDER BY file
            """,
            params=[today, source.name],
        ).pl()
    finally:
        con.unregister("_delivered")
    return gone.cast(AUDIT_SCHEMA)


def write_audit(
    con: duckdb.DuckDBPyConnection, source: Source, result: SourceResult, today: date
) -> None:
    """Replace this source's rows of audit.file_audit (with its withdrawn files'),
    audit.quarantine and audit.row_warnings."""
    audit_tables = {
        "file_audit": pl.concat([result.audit, _withdrawn(con, source, result.audit, today)]),
        "quarantine": result.quarantine.select(
            "source", "file", "row_number", "column_name", "reason_code", "detail"
        ),
        "row_warnings": result.warnings.select(
            "source", "file", "row_number", "column_name", "warning_code", "detail"
        ),
    }
    for name, frame in audit_tables.items():
        con.register("_part", frame.to_arrow())
        con.execute(f"CREATE TABLE IF NOT EXISTS audit.{name} AS FROM _part LIMIT 0")
        con.execute(f"DELETE FROM audit.{name} WHERE source = ?", [source.name])
        con.execute(f"INSERT INTO audit.{name} BY NAME SELECT * FROM _part")
        con.unregister("_part")
