"""Supersession by natural key across deliveries, and the after-today rule, in DuckDB.

`ingested.<source>` is a view of the cache's Parquet files without the rows listed in
`unloaded.<source>` (_file, _row: dated after today, or superseded by a later row).
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from pipelines.ingest import parse, reasons
from pipelines.ingest.cache import FileOutcome
from pipelines.ingest.sources import Source


def _future_column(source: Source, today: date) -> str:
    """SQL: the first date column after `today` (quarantined as date_in_future), else NULL."""
    dates = [c.name for c in source.columns if c.kind == "date"]
    if not dates:
        return "NULL::VARCHAR"
    whens = " ".join(f"WHEN \"{c}\" > DATE '{today.isoformat()}' THEN '{c}'" for c in dates)
    return f"CASE {whens} END"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def supersede(
    con: duckdb.DuckDBPyConnection, source: Source, outcomes: list[FileOutcome], today: date
) -> pl.DataFrame:
    """Create `ingested.<source>`: the valid rows of every file not dated after today, the
    later file winning, then the later row, per natural key. Set-based in DuckDB over the
    cache's Parquet files, so memory is bounded by DuckDB's limit, not by the data.

    The rows stay in those files: copying them into DuckDB's own storage costs more than all
    later scans of them (keyed hashes do not compress), and a scan of the Parquet files costs
    about what a scan of the table does.
    Returns the rows quarantined as date_in_future."""
    table, unloaded = f"ingested.{source.name}", f"unloaded.{source.name}"
    con.execute("CREATE SCHEMA IF NOT EXISTS unloaded")
    con.execute(f"CREATE OR REPLACE TABLE {unloaded} (_file VARCHAR, _row BIGINT)")
    _drop_relation(con, "ingested", source.name)
    if not outcomes:
        empty = pl.DataFrame(schema={**parse.output_schema(source), "_file": pl.String})
        con.register("_empty", empty.to_arrow())
        con.execute(f"CREATE TABLE {table} AS FROM _empty")
        con.unregister("_empty")
        return pl.DataFrame(schema={**reasons.QUARANTINE_SCHEMA, "file": pl.String})
    # One branch per file, its name a constant: no per-row join on the Parquet path (hashing a
    # long string per row costs more than the join itself). Files of equal content share one
    # cache entry; each file's branch reads it as that file's rows.
    files = [
        (order, _sql_text(o.file), _sql_text(str(o.valid_path))) for order, o in enumerate(outcomes)
    ]
    loaded = " UNION ALL ".join(
        f"""SELECT t.*, {file} AS _file FROM read_parquet({path}) t
        ANTI JOIN (SELECT _row FROM {unloaded} WHERE _file = {file}) u ON u._row = t._row"""
        for _, file, path in files
    )
    con.execute(f"CREATE VIEW {table} AS {loaded}")
    staged = " UNION ALL ".join(
        f"SELECT t.*, {file} AS _file, {order} AS _order FROM read_parquet({path}) t"
        for order, file, path in files
    )
    staged = f"({staged})"
    future = con.sql(
        f"""SELECT _row AS row_number, _future AS column_name, 'date_in_future' AS reason_code,
            _future || ': after today ({today.isoformat()})' AS detail, _file AS file
        FROM (SELECT *, {_future_column(source, today)} AS _future FROM {staged})
        WHERE _future IS NOT NULL ORDER BY _order, _row"""
    ).pl()
    con.register("_future", future.to_arrow())
    keys = ["record_key"] if source.person_level else list(source.key)
    key = ", ".join(f'"{k}"' for k in keys)
    r_key = ", ".join(f'r."{k}"' for k in keys)
    # Most keys occur once: only the rows of a key whose hash repeats are ranked, by the key
    # itself (grouping a 64-bit hash is cheaper than grouping the 32-character record keys; a
    # row whose hash alone repeats ranks first in its key).
    con.execute(
        f"""INSERT INTO {unloaded}
        WITH dated AS (
            SELECT {key}, _file, _order, _row FROM {staged}
            ANTI JOIN _future x ON x.file = _file AND x.row_number = _row),
        repeated AS (SELECT hash({key}) AS h FROM dated GROUP BY h HAVING count(*) > 1)
        SELECT file, row_number FROM _future
        UNION ALL
        SELECT r._file, r._row FROM dated r SEMI JOIN repeated d ON hash({r_key}) = d.h
        QUALIFY row_number() OVER (
            PARTITION BY {r_key} ORDER BY r._order DESC, r._row DESC
        ) > 1"""
    )
    con.unregister("_future")
    return future.cast({**reasons.QUARANTINE_SCHEMA, "file": pl.String})


def _drop_relation(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> None:
    """Drop `schema.name`, a table or a view (a work file of an older version has tables)."""
    kinds = con.execute(
        "SELECT 'TABLE' FROM duckdb_tables() WHERE schema_name = $1 AND table_name = $2"
        " AND database_name = current_database()"
        " UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE schema_name = $1 AND view_name = $2"
        " AND database_name = current_database()",
        [schema, name],
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f'DROP {kind} "{schema}"."{name}"')
