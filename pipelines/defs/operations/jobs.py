"""The refresh job: every asset, in one process (DuckDB allows one writer)."""

import dagster as dg

from pipelines.defs.ingest.landing import landing_folder

refresh_job = dg.define_asset_job(
    "refresh",
    # The landing folder is observed first: each source's data version is what its ingestion read.
    selection=dg.AssetSelection.all() | dg.AssetSelection.assets(*landing_folder.keys),
    executor_def=dg.in_process_executor,
    description="Full refresh: landing folder (observed) -> ingestion -> identity -> dbt marts "
    "-> published file.",
)

defs = dg.Definitions(jobs=[refresh_job])
