"""`identity/child_index`: the child-level records linked into one child index."""

import dagster as dg

from pipelines.identity.resolve import ATTRIBUTE_PRIORITY, resolve_identity
from pipelines.operations.work_steps import IDENTITY, transactional_write
from pipelines.resources import SETTINGS, YiyuSettings
from pipelines.warehouse import work_db


@dg.asset(
    key=dg.AssetKey(["identity", "child_index"]),
    group_name="identity",
    deps=[dg.AssetKey(["ingested", source]) for source in ATTRIBUTE_PRIORITY],
    description="Schema identity: record_classes, the child_records view, children and the "
    "sources, linked by ID number, birth certificate, archive number, then the demographic "
    "triple (docs/identity.md).",
    kinds={"duckdb"},
)
def child_index(context: dg.AssetExecutionContext, settings: YiyuSettings) -> dg.MaterializeResult:
    with work_db(settings.get()) as con, transactional_write(con, IDENTITY, context.run.run_id):
        summary = resolve_identity(con)
    context.log.info(
        f"{summary['children']} children from {sum(summary['records'].values())} records "
        f"in {summary['seconds']} s"
    )
    return dg.MaterializeResult(
        metadata={
            "children": summary["children"],
            **{f"records_{source}": n for source, n in summary["records"].items()},
            "ambiguous": summary["ambiguous"],
            "seconds": summary["seconds"],
        }
    )


defs = dg.Definitions(assets=[child_index], resources={"settings": SETTINGS})
