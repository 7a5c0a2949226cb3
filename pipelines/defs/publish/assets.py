"""The published file evaluators read, and its report: built as a candidate, passed through the
publish gate, the report rendered from the candidate, then both swapped in atomically."""

import time
from datetime import UTC, datetime

import dagster as dg
from dagster_dbt import build_dbt_asset_selection

from pipelines.defs.marts.assets import marts_dbt_assets
from pipelines.defs.quality.checks import CROSS_SOURCE_ASSET
from pipelines.operations.failpoints import failpoint
from pipelines.operations.fingerprint import remember_refresh
from pipelines.operations.guard import current_run
from pipelines.operations.work_steps import state_refusals
from pipelines.publish.gate import (
    PublishRefused,
    candidate_refusals,
    check_disk_space,
    derived_as_of,
    withdrawals,
)
from pipelines.publish.publish import build_candidate, discard, swap
from pipelines.publish.run_history import RUNNING, finish_run, mark_published
from pipelines.resources import SETTINGS, YiyuSettings
from pipelines.warehouse import work_db

REPORT_FILE = "report.html"
REPORT_ASSET = "evaluation_report"
# The dbt models of schema `marts`: what is published.
MARTS_KEYS = build_dbt_asset_selection(
    [marts_dbt_assets], dbt_select="config.schema:marts"
).resolve([marts_dbt_assets])


def _refuse(refusals: list[str]) -> None:
    if refusals:
        raise PublishRefused("publish gate: " + "; ".join(refusals))


@dg.asset(
    key="published_warehouse",
    group_name="publishing",
    # The cross-source metric too: its blocking quality check stops publishing when it fails.
    deps=[*sorted(MARTS_KEYS), CROSS_SOURCE_ASSET],
    kinds={"duckdb"},
    description="YIYU_WAREHOUSE_PATH: marts, audit, quarantine, quality history and run history, "
    "and the report beside it; published by atomic rename once the candidate passes the publish "
    "gate; the last good file stays when anything fails.",
)
def published_warehouse(
    context: dg.AssetExecutionContext, settings: YiyuSettings
) -> dg.MaterializeResult:
    started = time.perf_counter()
    config = settings.get()
    run_id = context.run.run_id
    run = current_run(run_id)
    failpoint("publish_gate")
    with work_db(config) as con:
        refusals = state_refusals(con, run_id)
        # Each withdrawn file was named when ingestion noticed it; here, the guard.
        for lost in withdrawals(con, config.warehouse_path):
            refusal = lost.refusal()
            if refusal and not (run and run.accept_withdrawals):
                refusals.append(
                    f"{refusal}; `yiyu refresh --accept-withdrawals` publishes without them"
                )
        _refuse(refusals)
        as_of = derived_as_of(con, config)
        row = finish_run(con, run_id, RUNNING)  # the figures the published row shows
    check_disk_space(config)
    at = datetime.now(UTC)

    def complete(candidate_con) -> None:
        _refuse(candidate_refusals(candidate_con, config.period_start, as_of))
        mark_published(candidate_con, run_id, at)

    candidate, rows = build_candidate(config.work_db, config.warehouse_path, run_id, complete)
    staged = {candidate: config.warehouse_path}
    try:
        # The report of this run: rendered from the candidate, swapped in with it.
        if context.job_def.has_node_named(REPORT_ASSET):
            from pipelines.report.render import write_report

            failpoint("report")
            report = write_report(
                candidate.parent / REPORT_FILE,
                settings=config,
                published=candidate,
                timezone=config.timezone,
            )
            staged[report] = config.warehouse_dir / REPORT_FILE
            from pipelines.report.dictionary import DICTIONARY_FILE, write_dictionary

            dictionary = write_dictionary(
                candidate,
                candidate.parent / DICTIONARY_FILE,
                source_name=config.warehouse_path.name,
            )
            staged[dictionary] = config.warehouse_dir / DICTIONARY_FILE
        swap(staged)
    finally:
        discard(candidate)
    if run is not None:
        run.published_at = at
        remember_refresh(config, run.inputs if run.full_job else None, run_id, run.raw)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(config.warehouse_path)),
            "tables": len(rows),
            "rows_by_table": dg.MetadataValue.json(rows),
            **{k: v for k, v in row.items() if isinstance(v, int)},
            "seconds": round(time.perf_counter() - started, 2),
        }
    )


defs = dg.Definitions(assets=[published_warehouse], resources={"settings": SETTINGS})
