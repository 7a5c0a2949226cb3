"""One asset per raw source: parse, validate, pseudonymise, supersede, audit."""

import time

import dagster as dg

from pipelines.ingest.freshness import freshness, record_freshness
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.sources import SOURCES, Source
from pipelines.quality.history import run_of
from pipelines.resources import RESOURCES, QualityResource, YiyuSettings
from pipelines.warehouse import work_db


def ingestion_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["ingested", source.name]),
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
        config = settings.get()
        source_dir = config.raw_dir / source.name
        fresh = freshness(source, source_dir)
        if not fresh.fresh:
            context.log.warning(f"{source.name} is stale: {fresh.describe()}")
        with work_db(config) as con:
            result = ingest_source(
                source,
                source_dir,
                con,
                cache_dir=config.cache_dir,
                key=settings.link_key(),
                progress=context.log.info,
            )
            record_freshness(con, run_of(context), source, fresh)
            loaded = int(result.audit["rows_loaded"].sum())
            # GE validates this table on the other core while the run ingests the next source.
            quality.start_validation(con, source.name, loaded, context.log)
        audit = result.audit
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
