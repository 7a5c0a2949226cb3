"""The evaluators' report as the last asset of the graph, refreshed after every publish."""

import dagster as dg

from pipelines.resources import SETTINGS, YiyuSettings


@dg.asset(
    group_name="report",
    deps=[dg.AssetKey("published_warehouse")],
    description="评估报告: self-contained HTML report of the published marts (docs/report.md).",
)
def evaluation_report(settings: YiyuSettings) -> dg.MaterializeResult:
    from pipelines.report.render import write_report

    config = settings.get()
    out = write_report(
        config.warehouse_dir / "report.html", published=config.warehouse_path, settings=config
    )
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(out)), "bytes": out.stat().st_size}
    )


defs = dg.Definitions(assets=[evaluation_report], resources={"settings": SETTINGS})
