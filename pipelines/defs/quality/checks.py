"""Asset checks: per ingested source a blocking and a warning check, and the cross-source
checks on the metric models the dbt project builds (models/quality). A failed blocking check
(ERROR severity) stops every asset downstream of the checked one in the run: a source's
stops the marts, the cross-source one stops publishing (published_warehouse depends on
CROSS_SOURCE_ASSET, the checked linkage metric)."""

from collections.abc import Iterator

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from pipelines.defs.marts.assets import marts_dbt_assets
from pipelines.ingest.sources import SOURCES
from pipelines.quality.cross import METRICS, metric_model
from pipelines.quality.history import run_of
from pipelines.quality.run import verdict
from pipelines.quality.suites import CROSS_SOURCE
from pipelines.resources import RESOURCES, QualityResource

# The dbt assets of the cross-source metrics; the checks sit on the first (the linkage, which
# the blocking expectation reads) and read the others.
CROSS_SOURCE_METRICS = [
    get_asset_key_for_model([marts_dbt_assets], metric_model(m)) for m in METRICS
]
CROSS_SOURCE_ASSET = CROSS_SOURCE_METRICS[0]


def _results(
    context: dg.AssetCheckExecutionContext,
    quality: QualityResource,
    asset: dg.AssetKey,
    dataset: str,
    prefix: str,
) -> Iterator[dg.AssetCheckResult]:
    run = run_of(context)
    recorded = quality.run_checks(dataset, run)
    page = str(quality.report_page(run.run_id))
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
    asset: dg.AssetKey, prefix: str, what: str, stops: str, reads: list[dg.AssetKey] | None = None
) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            f"{prefix}_blocking",
            asset=asset,
            blocking=True,
            additional_deps=reads,
            description=f"{what}: blocking expectations (stop {stops})",
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
        specs=_specs(asset, "quality", f"expectations/{source}.json", "the marts"),
        can_subset=False,
    )
    def _check(context: dg.AssetCheckExecutionContext, quality: QualityResource):
        yield from _results(context, quality, asset, source, "quality")

    return _check


@dg.multi_asset_check(
    name="quality_cross_source",
    specs=_specs(
        CROSS_SOURCE_ASSET,
        "cross_source",
        "expectations/cross_source.json",
        "publishing",
        CROSS_SOURCE_METRICS[1:],
    ),
    can_subset=False,
)
def cross_source_checks(context: dg.AssetCheckExecutionContext, quality: QualityResource):
    yield from _results(context, quality, CROSS_SOURCE_ASSET, CROSS_SOURCE, "cross_source")


defs = dg.Definitions(
    asset_checks=[*(source_checks(s) for s in SOURCES), cross_source_checks],
    resources=RESOURCES,
)
