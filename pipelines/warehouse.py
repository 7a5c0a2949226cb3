"""Connections to the working database (one writer process, see docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from pipelines.config import Settings

# The work file's strings are mostly keyed hashes (32 random hex characters), which DuckDB's
# string compression cannot shrink but analyses at great cost. dbt's profile sets the same.
UNUSED_COMPRESSION = "dict_fsst"


class OutOfMemory(RuntimeError):
    """DuckDB ran out of its memory limit; the message names the setting."""


@contextmanager
def work_db(config: Settings, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The working DuckDB file of `config`; closed on exit so dbt (a separate connection) can
    open it.

    Memory is bounded (`duckdb_memory_limit`): beyond it DuckDB spills to disk instead of
    growing with the data. Strings are stored without DuckDB's dictionary/FSST compression
    (UNUSED_COMPRESSION). Running out of that memory raises OutOfMemory, naming the setting
    (the step is named by whoever reports the failure)."""
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
    except duckdb.OutOfMemoryException as exhausted:
        raise OutOfMemory(
            f"DuckDB ran out of memory within YIYU_DUCKDB_MEMORY_LIMIT="
            f"{config.duckdb_memory_limit}: raise it, or free memory on this machine"
        ) from exhausted
    finally:
        con.close()
