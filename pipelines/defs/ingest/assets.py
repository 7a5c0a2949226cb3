"""One asset per raw source: parse, validate, pseudonymise, supersede, audit."""

import time

import dagster as dg
import duckdb

from pipelines.defs.ingest.landing import landing_key
from pipelines.ingest.freshness import freshness, record_freshness
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.sources import SOURCES, Source
from pipelines.operations.failpoints import failpoint
from pipelines.operations.work_steps import transactional_write
from pipelines.publish.publish import table_exists
from pipelines.quality.history import run_of
from pipelines.resources import RESOURCES, QualityResource, YiyuSettings
from pipelines.warehouse import work_db


def delivered_before(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, int]:
    """The files of `source` the working audit holds as delivered, and the rows each loaded."""
    if not table_exists(con, "audit", "file_audit"):
        return {}
    rows = con.execute(
        "SELECT file, rows_loaded FROM audit.file_audit"
        " WHERE source = ? AND status IS DISTINCT FROM 'withdrawn'",
        [source],
    ).fetchall()
    return dict(rows)


def ingestion_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["ingested", source.name]),
        deps=[landing_key(source.name)],
        group_name="ingestion",
        description=f"{source.label_zh} ({source.name}): every file under "
        f"YIYU_RAW_DIR/{source.name}/, validated, pseudonymised and superseded by natural key.",
        kinds={"duckdb", "polars"},
        check_specs=[
            dg.AssetCheckSpec(
                "freshness",
                asset=dg.AssetKey(["ingested", source.name]),
                description=f"a new file at least every {source.expected_every_days} days",
            )
        ],
    )
    def _ingest(
        context: dg.AssetExecutionContext, settings: YiyuSettings, quality: QualityResource
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        failpoint(f"ingest_{source.name}")
        config = settings.get()
        source_dir = config.raw_dir / source.name
        fresh = freshness(source, source_dir)
        if not fresh.fresh:
            context.log.warning(f"{source.name} is stale: {fresh.describe()}")
        with work_db(config) as con:
            before = delivered_before(con, source.name)
            # One transaction: on an error the source's previous tables stay, and its mark.
            with transactional_write(con, f"ingested/{source.name}", context.run.run_id):
                result = ingest_source(
                    source,
                    source_dir,
                    con,
                    cache_dir=config.cache_dir,
                    key=settings.link_key(),
                    today=config.today(),
                    progress=context.log.info,
                    worklist_key=settings.worklist_key(),
                )
            record_freshness(con, run_of(context), source, fresh)
            loaded = int(result.audit["rows_loaded"].sum())
            # GE validates this table on the other core while the run ingests the next source.
            quality.start_validation(con, source.name, loaded, context.log)
        audit = result.audit
        for file in sorted(set(before) - set(audit["file"])):
            context.log.warning(
                f"{source.name}/{file} is no longer in the landing folder (withdrawn):"
                f" its {before[file]} rows leave the marts"
            )
        totals = {
            c: int(audit[c].sum())
            for c in ("rows_read", "rows_loaded", "rows_quarantined", "rows_superseded")
        }
        rejected = audit.filter(audit["status"] == "rejected")
        for row in rejected.iter_rows(named=True):
            context.log.warning(f"{source.name}/{row['file']} rejected: {row['reject_reason']}")
        return dg.MaterializeResult(
            metadata={
                "files": len(audit),
                "files_parsed": int(audit["parsed_this_run"].sum()),
                "files_rejected": len(rejected),
                **totals,
                "quarantine_by_reason": dg.MetadataValue.json(
                    dict(result.quarantine.group_by("reason_code").len().iter_rows())
                ),
                "seconds": round(time.perf_counter() - started, 2),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="freshness",
                    passed=fresh.fresh,
                    severity=dg.AssetCheckSeverity.WARN,
                    description=f"{source.name}: {fresh.describe()}",
                    metadata={
                        "newest_file": fresh.newest_file or "",
                        "age_days": -1 if fresh.age_days is None else round(fresh.age_days, 2),
                        "expected_every_days": fresh.expected_every_days,
                    },
                )
            ],
        )

    return _ingest


defs = dg.Definitions(assets=[ingestion_asset(s) for s in SOURCES.values()], resources=RESOURCES)
