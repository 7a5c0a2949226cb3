"""The evaluators' report as the last asset of the graph, refreshed after every publish."""

from __future__ import annotations

import dagster as dg

from pipelines.config import settings


@dg.asset(
    group_name="report",
    deps=[dg.AssetKey("published_warehouse")],
    description="评估报告: self-contained HTML report of the published marts (docs/report.md).",
)
def evaluation_report() -> dg.MaterializeResult:
    from pipelines.report.render import write_report

    out = write_report(settings().warehouse_dir / "report.html")
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(out)), "bytes": out.stat().st_size}
    )


defs = dg.Definitions(assets=[evaluation_report])
