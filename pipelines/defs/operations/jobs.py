"""The refresh job: every asset, in one process (DuckDB allows one writer)."""

import dagster as dg

refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all(include_sources=False),
    executor_def=dg.in_process_executor,
    description="Full refresh: raw files -> ingestion -> identity -> dbt marts -> published file.",
)

defs = dg.Definitions(jobs=[refresh_job])
