"""Ingestion of one source: every file parsed (or taken from the content cache, `cache`),
the after-today rule and supersession by natural key across deliveries (`supersede`), and
the per-file audit (`audit`).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pipelines.ingest import readers, reasons
from pipelines.ingest.audit import SourceResult, file_audit, write_audit
from pipelines.ingest.cache import CacheFiller, FileOutcome
from pipelines.ingest.secret import require_key
from pipelines.ingest.sources import Source
from pipelines.ingest.supersede import supersede

# Files parsed at once.
PARSE_THREADS = 2


def _read_files(
    filler: CacheFiller, source_dir: Path, progress: Callable[[str], None]
) -> list[FileOutcome]:
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
            progress(f"{filler.source.name} {counted}, {verb}")
    return outcomes


def ingest_source(
    source: Source,
    source_dir: Path,
    con: duckdb.DuckDBPyConnection,
    *,
    cache_dir: Path,
    key: bytes,
    today: date | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    worklist_key: RSAPublicKey | None = None,
) -> SourceResult:
    """Ingest every file of one source into `con`: `ingested.<source>` and this source's
    rows of the audit tables, replaced in one transaction. Parses are cached under
    `cache_dir` and keyed hashes made with the link secret `key`; with the worklist public
    key `worklist_key`, the handles of a child-level source are kept encrypted to it."""
    today = today or date.today()
    filler = CacheFiller(source, cache_dir, require_key(key), worklist_key)
    outcomes = _read_files(filler, source_dir, progress)
    warnings = pl.concat(
        [
            pl.DataFrame(schema={**reasons.WARNING_SCHEMA, "file": pl.String}),
            *(o.warnings.with_columns(file=pl.lit(o.file)) for o in outcomes),
        ]
    ).with_columns(source=pl.lit(source.name))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS ingested")
        con.execute("CREATE SCHEMA IF NOT EXISTS audit")
        future = supersede(con, source, outcomes, today)
        quarantine = pl.concat(
            [
                pl.DataFrame(schema={**reasons.QUARANTINE_SCHEMA, "file": pl.String}),
                *(o.quarantine.with_columns(file=pl.lit(o.file)) for o in outcomes),
                future,
            ]
        ).with_columns(source=pl.lit(source.name))
        result = SourceResult(file_audit(con, source, outcomes, quarantine), quarantine, warnings)
        write_audit(con, source, result, today)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    # Only now: until the commit, the previous `ingested.<source>` may read these entries.
    filler.prune({o.valid_path.parent.name for o in outcomes})
    return result
