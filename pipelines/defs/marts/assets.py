"""dbt models, seeds and tests as Dagster assets (group `marts`).

One `dbt build` per run: seeds, models and data tests, so a failing test fails the run, and
the failure names the tests that failed. dbt's unit tests check the models' SQL on fixed
inputs, not the data: as dbt advises, they run in development and CI (tests/test_marts.py),
not in every refresh.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dbt.adapters.factory import reset_adapters

from pipelines.marts.dbt import (
    build_target_dir,
    dbt_project,
    dbt_resource,
    ensure_manifest,
    keep_parse_state,
    out_of_memory_note,
    point_dbt_at_work_db,
    use_parse_state,
    write_run_settings,
)
from pipelines.operations.failpoints import failpoint
from pipelines.operations.work_steps import MARTS, mark_completed, mark_started
from pipelines.resources import SETTINGS, YiyuSettings
from pipelines.warehouse import work_db

# Sources the marts asset writes itself before `dbt build` (meta `written_by` in _sources.yml).
WRITTEN_BY = "marts_dbt_assets"


class MartsTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "marts"

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        """dagster-dbt's spec, less the deps on sources this asset writes itself (they are no
        upstream asset, and none produces them)."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        own = {
            self.get_asset_key(source)
            for source in manifest["sources"].values()
            if (source.get("config", {}).get("meta") or {}).get("written_by") == WRITTEN_BY
        }
        return spec.replace_attributes(deps=[d for d in spec.deps if d.asset_key not in own])


# The three identity tables are one upstream asset (identity/child_index).
TRANSLATOR = MartsTranslator(DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True))


def failed_nodes(invocation: DbtCliInvocation) -> list[str]:
    """Names of the dbt nodes (tests, unit tests, models) that failed or errored."""
    try:
        results = invocation.get_artifact("run_results.json").get("results", [])
    except FileNotFoundError:  # dbt stopped before running any node
        return []
    return [
        r["unique_id"] for r in results if r.get("status") in ("fail", "error", "runtime error")
    ]


@dbt_assets(manifest=ensure_manifest(), project=dbt_project, dagster_dbt_translator=TRANSLATOR)
def marts_dbt_assets(
    context: AssetExecutionContext, dbt: DbtCliResource, settings: YiyuSettings
) -> Iterator[Any]:
    config = settings.get()
    run_id = context.run.run_id
    with work_db(config) as con:
        write_run_settings(con, config, run_id)
        mark_started(con, MARTS, run_id)
    point_dbt_at_work_db(config)
    target_dir = build_target_dir(run_id)
    # dbt re-parses only what changed since a parse with the same settings.
    use_parse_state(target_dir, config)
    invocation = dbt.cli(
        ["build", "--exclude-resource-type", "unit_test"],
        context=context,
        target_path=target_dir,
        raise_on_error=False,
    )
    try:
        for number, event in enumerate(invocation.stream()):
            yield event
            if number == 3:
                failpoint("dbt")  # dbt is mid-build in its own process
    except BaseException:
        # No dbt left writing the work file behind a failed step.
        invocation.process.terminate()
        invocation.process.wait()
        raise
    keep_parse_state(target_dir, config)
    # dagster-dbt built a dbt adapter in this process; its connections and lock end here.
    reset_adapters()
    if not invocation.is_successful():
        failed = failed_nodes(invocation) or ["(no node result: see the dbt log)"]
        note = out_of_memory_note(invocation, config)
        raise dg.Failure(
            description="dbt build failed: " + ", ".join(failed) + note,
            metadata={"failed_nodes": failed},
        )
    # Only a build of every model completes the marts (a subset leaves the rest older).
    if context.selected_asset_keys == context.assets_def.keys:
        with work_db(config) as con:
            mark_completed(con, MARTS, run_id)


defs = dg.Definitions(
    assets=[marts_dbt_assets], resources={"dbt": dbt_resource(), "settings": SETTINGS}
)
