"""The per-file audit of one source, and its rows of the audit tables.

Reconciliation per file: rows_read = rows_loaded + rows_quarantined + rows_superseded.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        )
        .select(list(AUDIT_SCHEMA))
    )


def write_audit(con: duckdb.DuckDBPyConnection, source: Source, result: SourceResult) -> None:
    """Replace this source's rows of audit.file_audit, audit.quarantine, audit.row_warnings."""
    audit_tables = {
        "file_audit": result.audit,
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
