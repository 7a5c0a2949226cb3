"""The evaluators' report as the last asset of the graph.

In a run that published, the publish step has rendered it from the candidate and swapped it in
with the published file (pipelines/defs/publish/assets.py): this step only describes it.
Materialised on its own, it renders the report of the published file, written whole or not at
all.
"""

import os

import dagster as dg

from pipelines.operations.guard import current_run
from pipelines.resources import SETTINGS, YiyuSettings


@dg.asset(
    group_name="report",
    deps=[dg.AssetKey("published_warehouse")],
    description="评估报告: self-contained HTML report of the published marts (docs/report.md).",
)
def evaluation_report(
    context: dg.AssetExecutionContext, settings: YiyuSettings
) -> dg.MaterializeResult:
    config = settings.get()
    out = config.warehouse_dir / "report.html"
    run = current_run(context.run.run_id)
    if run is None or run.published_at is None:
        from pipelines.report.render import write_report

        partial = out.with_name(f".{out.name}.{context.run.run_id}.tmp")
        try:
            write_report(
                partial,
                settings=config,
                published=config.warehouse_path,
                timezone=config.timezone,
            )
            os.replace(partial, out)
            from pipelines.report.dictionary import DICTIONARY_FILE, write_dictionary

            dictionary = out.with_name(DICTIONARY_FILE)
            write_dictionary(config.warehouse_path, partial)
            os.replace(partial, dictionary)
        finally:
            partial.unlink(missing_ok=True)
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(out)), "bytes": out.stat().st_size}
    )


defs = dg.Definitions(assets=[evaluation_report], resources={"settings": SETTINGS})
