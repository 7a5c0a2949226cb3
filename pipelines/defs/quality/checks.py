"""Asset checks: per ingested source a blocking and a warning check, and the cross-source
checks on the child index. A failed blocking check (ERROR severity) stops every downstream
asset of the run, so no mart is built from data known to be wrong."""

from collections.abc import Iterator

import dagster as dg

from pipelines.ingest.sources import SOURCES
from pipelines.quality.history import run_of
from pipelines.quality.report import report_dir
from pipelines.quality.run import run_checks, verdict
from pipelines.quality.suites import CROSS_SOURCE

CHILD_INDEX = dg.AssetKey(["identity", "child_index"])
# Tables the cross-source checks read besides the child index itself.
CROSS_SOURCE_INPUTS = [
    dg.AssetKey(["ingested", s])
    for s in (
        *(name for name, source in SOURCES.items() if source.child_level),
        "institutions",
    )
]


def _results(
    context: dg.AssetCheckExecutionContext, asset: dg.AssetKey, dataset: str, prefix: str
) -> Iterator[dg.AssetCheckResult]:
    run = run_of(context)
    recorded = run_checks(dataset, run)
    page = str(report_dir() / f"{run.run_id}.html")
    for severity, level in (
        ("blocking", dg.AssetCheckSeverity.ERROR),
        ("warn", dg.AssetCheckSeverity.WARN),
    ):
        result = verdict(recorded, severity)
        if not result.passed:
            context.log.warning(f"{dataset}: {result.description}")
        yield dg.AssetCheckResult(
            asset_key=asset,
            check_name=f"{prefix}_{severity}",
            passed=result.passed,
            severity=level,
            description=result.description,
            metadata={
                "dataset": dataset,
                "checks_evaluated": result.checks,
                "checks_failed": len(result.failures),
                "failed_checks": dg.MetadataValue.json(result.failures),
                "report": dg.MetadataValue.path(page),
            },
        )


def _specs(
    asset: dg.AssetKey, prefix: str, what: str, reads: list[dg.AssetKey] | None = None
) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            f"{prefix}_blocking",
            asset=asset,
            blocking=True,
            additional_deps=reads,
            description=f"{what}: blocking expectations (stop the marts)",
        ),
        dg.AssetCheckSpec(
            f"{prefix}_warn",
            asset=asset,
            additional_deps=reads,
            description=f"{what}: warning expectations (reported only)",
        ),
    ]


def source_checks(source: str) -> dg.AssetChecksDefinition:
    asset = dg.AssetKey(["ingested", source])

    @dg.multi_asset_check(
        name=f"quality_{source}",
        specs=_specs(asset, "quality", f"expectations/{source}.json"),
        can_subset=False,
    )
    def _check(context: dg.AssetCheckExecutionContext):
        yield from _results(context, asset, source, "quality")

    return _check


@dg.multi_asset_check(
    name="quality_cross_source",
    specs=_specs(
        CHILD_INDEX, "cross_source", "expectations/cross_source.json", CROSS_SOURCE_INPUTS
    ),
    can_subset=False,
)
def cross_source_checks(context: dg.AssetCheckExecutionContext):
    yield from _results(context, CHILD_INDEX, CROSS_SOURCE, "cross_source")


defs = dg.Definitions(asset_checks=[*(source_checks(s) for s in SOURCES), cross_source_checks])
