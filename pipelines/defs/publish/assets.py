"""The published file evaluators read, swapped in atomically after a good build."""

import time

import dagster as dg

from pipelines.defs.marts.assets import marts_dbt_assets
from pipelines.publish.publish import publish
from pipelines.publish.run_history import record_run
from pipelines.resources import SETTINGS, YiyuSettings
from pipelines.warehouse import work_db


@dg.asset(
    key="published_warehouse",
    group_name="publishing",
    deps=list(marts_dbt_assets.keys),
    kinds={"duckdb"},
    description="YIYU_WAREHOUSE_PATH: marts, audit, quarantine, quality history and run history, "
    "published by atomic rename; the last good file stays when anything fails.",
)
def published_warehouse(
    context: dg.AssetExecutionContext, settings: YiyuSettings
) -> dg.MaterializeResult:
    started = time.perf_counter()
    config = settings.get()
    with work_db(config) as con:
        run = record_run(con, context.run_id, context.instance)
    rows = publish(config.work_db, config.warehouse_path, context.run_id)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(config.warehouse_path)),
            "tables": len(rows),
            "rows_by_table": dg.MetadataValue.json(rows),
            **{k: v for k, v in run.items() if isinstance(v, int)},
            "seconds": round(time.perf_counter() - started, 2),
        }
    )


defs = dg.Definitions(assets=[published_warehouse], resources={"settings": SETTINGS})
