"""Connections to the working database (one writer process, see docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from pipelines.config import Settings

# The work file's strings are mostly keyed hashes (32 random hex characters), which DuckDB's
# string compression cannot shrink but analyses at great cost. dbt's profile sets the same.
UNUSED_COMPRESSION = "dict_fsst"


@contextmanager
def work_db(config: Settings, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The working DuckDB file of `config`; closed on exit so dbt (a separate connection) can
    open it.

    Memory is bounded (`duckdb_memory_limit`): beyond it DuckDB spills to disk instead of
    growing with the data. Strings are stored without DuckDB's dictionary/FSST compression
    (UNUSED_COMPRESSION)."""
    config.work_db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(config.work_db),
        read_only=read_only,
        config={
            "memory_limit": config.duckdb_memory_limit,
            "temp_directory": str(config.spill_dir),
        },
    )
    # A SET: DuckDB ignores this option when it is given to connect().
    con.execute(f"SET disabled_compression_methods = '{UNUSED_COMPRESSION}'")
    try:
        yield con
    finally:
        con.close()
