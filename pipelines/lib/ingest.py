"""Ingestion of one source: every file parsed (or taken from the content cache), the calendar
checks, supersession by natural key across deliveries, and the per-file audit.

Reconciliation per file: rows_read = rows_loaded + rows_quarantined + rows_superseded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib import parse, readers
from pipelines.lib.config import settings
from pipelines.lib.failpoints import failpoint
from pipelines.lib.secret import secret_fingerprint
from pipelines.lib.sources import Source

_CODE_FILES = ("parse.py", "values.py", "idcard.py", "readers.py", "sources.py", "pseudonymise.py")

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
    file: str
    content_sha256: str
    file_format: str
    encoding: str | None
    parsed: parse.ParsedFile
    first_ingested_at: datetime
    parsed_this_run: bool


def _cache_dir(source: Source, content_sha: str, version: str) -> Path:
    return settings().cache_dir / source.name / f"{content_sha}-{version}"


def _load_cached(folder: Path) -> tuple[parse.ParsedFile, dict] | None:
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    parsed = parse.ParsedFile(
        rows_read=meta["rows_read"],
        valid=pl.read_parquet(folder / "valid.parquet"),
        quarantine=pl.read_parquet(folder / "quarantine.parquet"),
        warnings=pl.read_parquet(folder / "warnings.parquet"),
        unknown_columns=meta["unknown_columns"],
        reject_reason=meta["reject_reason"],
    )
    return parsed, meta


def _store_cached(folder: Path, parsed: parse.ParsedFile, meta: dict) -> None:
    """Written to a temporary folder and renamed, so a killed run never leaves half an entry."""
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    parsed.valid.write_parquet(tmp / "valid.parquet")
    parsed.quarantine.write_parquet(tmp / "quarantine.parquet")
    parsed.warnings.write_parquet(tmp / "warnings.parquet")
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def read_file(source: Source, path: Path, rel: str, version: str) -> FileOutcome:
    data = path.read_bytes()
    content_sha = hashlib.sha256(data).hexdigest()
    folder = _cache_dir(source, content_sha, version)
    cached = _load_cached(folder)
    if cached is not None:
        parsed, meta = cached
        return FileOutcome(
            rel,
            content_sha,
            meta["file_format"],
            meta["encoding"],
            parsed,
            datetime.fromisoformat(meta["first_ingested_at"]),
            False,
        )
    file_format = readers.FORMATS[path.suffix.lower()]
    encoding = None
    try:
        raw = readers.read_raw(path, data)
        file_format, encoding = raw.file_format, raw.encoding
        parsed = parse.parse_frame(source, raw.frame)
    except readers.UnreadableFile as exc:
        parsed = parse.ParsedFile(
            0,
            pl.DataFrame(schema=parse.output_schema(source)),
            pl.DataFrame(schema=parse.QUARANTINE_SCHEMA),
            pl.DataFrame(schema=parse.WARNING_SCHEMA),
            [],
            f"unreadable file: {exc}",
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    meta = {
        "file_format": file_format,
        "encoding": encoding,
        "rows_read": parsed.rows_read,
        "unknown_columns": parsed.unknown_columns,
        "reject_reason": parsed.reject_reason,
        "first_ingested_at": now.isoformat(),
    }
    _store_cached(folder, parsed, meta)
    failpoint("parsing")
    return FileOutcome(rel, content_sha, file_format, encoding, parsed, now, True)


def _prune_cache(source: Source, used: set[str]) -> None:
    """Entries of files no longer delivered (or of older code) are never read again."""
    folder = settings().cache_dir / source.name
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name not in used:
                shutil.rmtree(entry, ignore_errors=True)


def _calendar_check(source: Source, today: date) -> pl.Expr:
    dates = [c.name for c in source.columns if c.kind == "date"]
    if not dates:
        return pl.lit(None, pl.String)
    return pl.coalesce(pl.when(pl.col(c) > today).then(pl.lit(c)) for c in dates)


@dataclass
class SourceResult:
    table: pl.DataFrame
    audit: pl.DataFrame
    quarantine: pl.DataFrame
    warnings: pl.DataFrame


def ingest_source(
    source: Source,
    source_dir: Path,
    today: date | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> SourceResult:
    today = today or date.today()
    version = parser_version()
    files = readers.discover(source_dir)
    outcomes = []
    for index, path in enumerate(files, start=1):
        rel = path.relative_to(source_dir).as_posix()
        outcome = read_file(source, path, rel, version)
        outcomes.append(outcome)
        verb = "parsed" if outcome.parsed_this_run else "unchanged, from cache"
        progress(
            f"{source.name} [{index}/{len(files)}] {rel}: {outcome.parsed.rows_read} rows, {verb}"
        )

    _prune_cache(source, {_cache_dir(source, o.content_sha256, version).name for o in outcomes})

    valid_parts, quarantine_parts, warning_parts = [], [], []
    for order, outcome in enumerate(outcomes):
        tagged = outcome.parsed.valid.with_columns(
            _file=pl.lit(outcome.file),
            _order=pl.lit(order),
            _future=_calendar_check(source, today),
        )
        future = tagged.filter(pl.col("_future").is_not_null()).select(
            row_number=pl.col("_row"),
            column_name=pl.col("_future"),
            reason_code=pl.lit("date_in_future"),
            detail=pl.col("_future") + pl.lit(f": after today ({today.isoformat()})"),
        )
        valid_parts.append(tagged.filter(pl.col("_future").is_null()).drop("_future"))
        quarantine_parts.append(
            pl.concat([outcome.parsed.quarantine, future]).with_columns(file=pl.lit(outcome.file))
        )
        warning_parts.append(outcome.parsed.warnings.with_columns(file=pl.lit(outcome.file)))

    schema = {**parse.output_schema(source), "_file": pl.String, "_order": pl.Int32}
    valid = pl.concat([pl.DataFrame(schema=schema), *(p.cast(schema) for p in valid_parts)])
    key = ["record_key"] if source.person_level else list(source.key)
    # The later file wins, then the later row: keep the last in (file order, row) order.
    winners = valid.sort("_order", "_row").unique(subset=key, keep="last", maintain_order=True)
    loaded = winners.group_by("_file").len("rows_loaded")
    valid_per_file = valid.group_by("_file").len("rows_valid")

    quarantine = pl.concat(
        [pl.DataFrame(schema={**parse.QUARANTINE_SCHEMA, "file": pl.String}), *quarantine_parts]
    ).with_columns(source=pl.lit(source.name))
    warnings = pl.concat(
        [pl.DataFrame(schema={**parse.WARNING_SCHEMA, "file": pl.String}), *warning_parts]
    ).with_columns(source=pl.lit(source.name))
    quarantined = quarantine.group_by("file").len("rows_quarantined")

    file_rows = [
        {
            "source": source.name,
            "file": o.file,
            "content_sha256": o.content_sha256,
            "file_format": o.file_format,
            "encoding": o.encoding,
            "status": "rejected" if o.parsed.reject_reason else "loaded",
            "reject_reason": o.parsed.reject_reason,
            "unknown_columns": ", ".join(o.parsed.unknown_columns),
            "rows_read": o.parsed.rows_read,
            "first_ingested_at": o.first_ingested_at,
            "parsed_this_run": o.parsed_this_run,
        }
        for o in outcomes
    ]
    file_schema = {k: v for k, v in AUDIT_SCHEMA.items() if k not in _COUNTED}
    audit = (
        pl.DataFrame(file_rows, schema=file_schema)
        .join(loaded, left_on="file", right_on="_file", how="left")
        .join(valid_per_file, left_on="file", right_on="_file", how="left")
        .join(quarantined, on="file", how="left")
        .with_columns(
            pl.col("rows_loaded", "rows_valid", "rows_quarantined").fill_null(0).cast(pl.Int64)
        )
        .with_columns(rows_superseded=pl.col("rows_valid") - pl.col("rows_loaded"))
        .select(list(AUDIT_SCHEMA))
    )
    table = winners.drop("_order").sort("_file", "_row")
    return SourceResult(table, audit, quarantine, warnings)


def write_source(con: duckdb.DuckDBPyConnection, source: Source, result: SourceResult) -> None:
    """Replace this source's table, audit, quarantine and warnings in one transaction."""
    audit_tables = {
        "file_audit": result.audit,
        "quarantine": result.quarantine.select(
            "source", "file", "row_number", "column_name", "reason_code", "detail"
        ),
        "row_warnings": result.warnings.select(
            "source", "file", "row_number", "column_name", "warning_code", "detail"
        ),
    }
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS ingested")
        con.execute("CREATE SCHEMA IF NOT EXISTS audit")
        con.register("_rows", result.table.to_arrow())
        con.execute(f"CREATE OR REPLACE TABLE ingested.{source.name} AS SELECT * FROM _rows")
        for name, frame in audit_tables.items():
            con.register("_part", frame.to_arrow())
            con.execute(f"CREATE TABLE IF NOT EXISTS audit.{name} AS FROM _part LIMIT 0")
            con.execute(f"DELETE FROM audit.{name} WHERE source = ?", [source.name])
            con.execute(f"INSERT INTO audit.{name} BY NAME SELECT * FROM _part")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
