"""Ingestion of one source: every file parsed (or taken from the content cache), the calendar
checks, supersession by natural key across deliveries, and the per-file audit.

Reconciliation per file: rows_read = rows_loaded + rows_quarantined + rows_superseded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.config import settings
from pipelines.ingest import parse, readers
from pipelines.ingest.secret import secret_fingerprint
from pipelines.ingest.sources import Source
from pipelines.operations.failpoints import failpoint

_CODE_FILES = (
    "ingest.py",
    "parse.py",
    "values.py",
    "idcard.py",
    "readers.py",
    "sources.py",
    "pseudonymise.py",
)

# Rows parsed at once: a multi-million-row file (a province's history export) is parsed in
# parts so that memory stays bounded.
PARSE_CHUNK_ROWS = 500_000
# Files parsed at once (_CacheFiller).
PARSE_THREADS = 2

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


def parser_version() -> str:
    """Changes whenever the parsing code or the key changes, so stale cache entries are unused."""
    digest = hashlib.sha256(secret_fingerprint().encode())
    lib = Path(__file__).parent
    for name in _CODE_FILES:
        digest.update((lib / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class FileOutcome:
    """One file's parse, without its valid rows: those stay in the cache's Parquet file
    (`valid_path`), so a source's rows are never all in Python memory at once."""

    file: str
    content_sha256: str
    file_format: str
    encoding: str | None
    rows_read: int
    valid_path: Path
    quarantine: pl.DataFrame
    warnings: pl.DataFrame
    unknown_columns: list[str]
    reject_reason: str | None
    first_ingested_at: datetime
    parsed_this_run: bool


def _cache_dir(source: Source, content_sha: str, version: str) -> Path:
    return settings().cache_dir / source.name / f"{content_sha}-{version}"


def _valid_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """The writer of a cache entry's valid rows. Keyed hashes (`*_key`: 32 random hex
    characters) neither dictionary-encode nor compress, and trying cost a tenth of the
    health-check ingestion (1M children: 32 -> 28.5 s, scans of the view a quarter faster,
    files 11% larger): they are written plain, without statistics (the min and max of
    random values prune nothing; computing them cost a quarter of the writing); the other
    columns keep dictionary, snappy and statistics."""
    keys = [f.name for f in schema if f.name.endswith("_key")]
    others = [f.name for f in schema if f.name not in keys]
    codecs = dict.fromkeys(keys, "none") | dict.fromkeys(others, "snappy")
    return pq.ParquetWriter(
        path, schema, use_dictionary=others, compression=codecs, write_statistics=others
    )


def _parse_into(folder: Path, source: Source, path: Path, data: bytes) -> None:
    """Parse one file into its cache entry, PARSE_CHUNK_ROWS rows at a time so the parse's
    working memory does not grow with the file. Written to a temporary folder and renamed,
    so a killed run never leaves half an entry."""
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    empty_valid = pl.DataFrame(schema=parse.output_schema(source))
    meta = {"file_format": readers.FORMATS[path.suffix.lower()], "encoding": None}
    quarantine = [pl.DataFrame(schema=parse.QUARANTINE_SCHEMA)]
    warnings = [pl.DataFrame(schema=parse.WARNING_SCHEMA)]
    rows_read, unknown, reject = 0, [], None
    with _valid_writer(tmp / "valid.parquet", empty_valid.to_arrow().schema) as valid_out:
        try:
            raw = readers.read_raw(path, data)
        except readers.UnreadableFile as exc:
            reject = f"unreadable file: {exc}"
        else:
            meta.update(file_format=raw.file_format, encoding=raw.encoding)
            for start in range(0, max(raw.frame.height, 1), PARSE_CHUNK_ROWS):
                part = parse.parse_frame(source, raw.frame.slice(start, PARSE_CHUNK_ROWS))
                valid_out.write_table(pl.concat([empty_valid, part.valid]).to_arrow())
                quarantine.append(part.quarantine)
                warnings.append(part.warnings)
                rows_read += part.rows_read
                unknown, reject = part.unknown_columns, part.reject_reason
    pl.concat(quarantine).write_parquet(tmp / "quarantine.parquet")
    pl.concat(warnings).write_parquet(tmp / "warnings.parquet")
    meta |= {
        "rows_read": rows_read,
        "unknown_columns": unknown,
        "reject_reason": reject,
        "first_ingested_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


class _CacheFiller:
    """Parses the files of one source into the cache, PARSE_THREADS at a time: polars,
    pyarrow and calamine work outside the GIL, so a second file parses while the first one's
    Python runs. Files of equal content share one entry, parsed once under its own lock."""

    def __init__(self, source: Source, version: str):
        self.source, self.version = source, version
        self.created: set[str] = set()  # entries parsed this run
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def fill(self, path: Path) -> str:
        """The content hash of `path`, its cache entry made when missing."""
        data = path.read_bytes()
        content_sha = hashlib.sha256(data).hexdigest()
        with self._guard:
            lock = self._locks.setdefault(content_sha, threading.Lock())
        with lock:
            folder = _cache_dir(self.source, content_sha, self.version)
            if not (folder / "meta.json").exists():
                _parse_into(folder, self.source, path, data)
                failpoint("parsing")
                self.created.add(content_sha)
        return content_sha

    def outcome(self, rel: str, content_sha: str, parsed_this_run: bool) -> FileOutcome:
        folder = _cache_dir(self.source, content_sha, self.version)
        meta = json.loads((folder / "meta.json").read_text())
        return FileOutcome(
            file=rel,
            content_sha256=content_sha,
            file_format=meta["file_format"],
            encoding=meta["encoding"],
            rows_read=meta["rows_read"],
            valid_path=folder / "valid.parquet",
            quarantine=pl.read_parquet(folder / "quarantine.parquet"),
            warnings=pl.read_parquet(folder / "warnings.parquet"),
            unknown_columns=meta["unknown_columns"],
            reject_reason=meta["reject_reason"],
            first_ingested_at=datetime.fromisoformat(meta["first_ingested_at"]),
            parsed_this_run=parsed_this_run,
        )


def _prune_cache(source: Source, used: set[str]) -> None:
    """Entries of files no longer delivered (or of older code) are never read again: the
    view `ingested.<source>` reads the entries in `used`."""
    folder = settings().cache_dir / source.name
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name not in used:
                shutil.rmtree(entry, ignore_errors=True)


def _future_column(source: Source, today: date) -> str:
    """SQL: the first date column after `today` (quarantined as date_in_future), else NULL."""
    dates = [c.name for c in source.columns if c.kind == "date"]
    if not dates:
        return "NULL::VARCHAR"
    whens = " ".join(f"WHEN \"{c}\" > DATE '{today.isoformat()}' THEN '{c}'" for c in dates)
    return f"CASE {whens} END"


@dataclass
class SourceResult:
    """What ingestion reports; the rows themselves are in `ingested.<source>`."""

    audit: pl.DataFrame
    quarantine: pl.DataFrame
    warnings: pl.DataFrame


def _read_files(
    source: Source, source_dir: Path, progress: Callable[[str], None]
) -> list[FileOutcome]:
    filler = _CacheFiller(source, parser_version())
    files = readers.discover(source_dir)
    outcomes: list[FileOutcome] = []
    seen: set[str] = set()
    with ThreadPoolExecutor(PARSE_THREADS) as pool:
        # In file order, whichever thread parsed: of files with equal content the first
        # counts as parsed, the others as from the cache, as when parsed one after another.
        for index, (path, content_sha) in enumerate(
            zip(files, pool.map(filler.fill, files), strict=True), start=1
        ):
            rel = path.relative_to(source_dir).as_posix()
            parsed = content_sha in filler.created and content_sha not in seen
            seen.add(content_sha)
            outcome = filler.outcome(rel, content_sha, parsed)
            outcomes.append(outcome)
            verb = "parsed" if parsed else "unchanged, from cache"
            counted = f"[{index}/{len(files)}] {rel}: {outcome.rows_read} rows"
            progress(f"{source.name} {counted}, {verb}")
    return outcomes


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _supersede(
    con: duckdb.DuckDBPyConnection, source: Source, outcomes: list[FileOutcome], today: date
) -> pl.DataFrame:
    """Create `ingested.<source>`: the valid rows of every file not dated after today, the
    later file winning, then the later row, per natural key. Set-based in DuckDB over the
    cache's Parquet files, so memory is bounded by DuckDB's limit, not by the data.

    The rows stay in those files: `ingested.<source>` is a view of them without the rows
    listed in `unloaded.<source>` (_file, _row: dated after today, or superseded). Copying a
    province's rows into DuckDB's own storage cost more than all later scans of them (19M
    health checks: 35 s, mostly compressing keyed hashes, which do not compress), and a scan
    of the Parquet files costs about what a scan of the table does.
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
        return pl.DataFrame(schema={**parse.QUARANTINE_SCHEMA, "file": pl.String})
    # One branch per file, its name a constant: no per-row join on the Parquet path (hashing a
    # long string per row cost half the CPU of a join with the view at 19M rows). Files of
    # equal content share one cache entry; each file's branch reads it as that file's rows.
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
    # itself (grouping the 64-bit hash instead of the 32-character record keys: 19M health
    # checks 2.7 -> 1.6 s; a row whose hash alone repeats ranks first in its key).
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
    return future.cast({**parse.QUARANTINE_SCHEMA, "file": pl.String})


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


def _audit(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    outcomes: list[FileOutcome],
    quarantine: pl.DataFrame,
) -> pl.DataFrame:
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


def ingest_source(
    source: Source,
    source_dir: Path,
    con: duckdb.DuckDBPyConnection,
    today: date | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> SourceResult:
    """Ingest every file of one source into `con`: `ingested.<source>` and this source's
    rows of the audit tables, replaced in one transaction."""
    today = today or date.today()
    outcomes = _read_files(source, source_dir, progress)
    warnings = pl.concat(
        [
            pl.DataFrame(schema={**parse.WARNING_SCHEMA, "file": pl.String}),
            *(o.warnings.with_columns(file=pl.lit(o.file)) for o in outcomes),
        ]
    ).with_columns(source=pl.lit(source.name))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS ingested")
        con.execute("CREATE SCHEMA IF NOT EXISTS audit")
        future = _supersede(con, source, outcomes, today)
        quarantine = pl.concat(
            [
                pl.DataFrame(schema={**parse.QUARANTINE_SCHEMA, "file": pl.String}),
                *(o.quarantine.with_columns(file=pl.lit(o.file)) for o in outcomes),
                future,
            ]
        ).with_columns(source=pl.lit(source.name))
        result = SourceResult(_audit(con, source, outcomes, quarantine), quarantine, warnings)
        _write_audit(con, source, result)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    # Only now: until the commit, the previous `ingested.<source>` may read these entries.
    _prune_cache(source, {o.valid_path.parent.name for o in outcomes})
    return result


def _write_audit(con: duckdb.DuckDBPyConnection, source: Source, result: SourceResult) -> None:
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
