"""Unattended operation: the nightly refresh and a sensor for newly landed raw files."""

import hashlib
import json

import dagster as dg

from pipelines.defs.operations.jobs import refresh_job
from pipelines.operations.fingerprint import raw_snapshot
from pipelines.resources import SETTINGS, YiyuSettings

nightly_refresh = dg.ScheduleDefinition(
    name="nightly_refresh",
    job=refresh_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Full refresh every night at 02:00 Beijing time.",
)


def changed_sources(previous: dict[str, str], current: dict[str, str]) -> set[str]:
    touched = {rel for rel in current if previous.get(rel) != current[rel]}
    touched |= set(previous) - set(current)  # a withdrawn file changes its source too
    return {rel.split("/", 1)[0] for rel in touched}


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Refreshes the sources whose raw files were added, changed or removed, "
    "and everything downstream of them.",
)
def raw_files_sensor(context: dg.SensorEvaluationContext, settings: YiyuSettings):
    previous = json.loads(context.cursor) if context.cursor else {}
    current = raw_snapshot(settings.get().raw_dir)
    sources = changed_sources(previous, current)
    if not sources:
        return dg.SkipReason("no new, changed or removed raw files")
    context.update_cursor(json.dumps(current, sort_keys=True))
    roots = [dg.AssetKey(["ingested", s]) for s in sorted(sources)]
    selection = dg.AssetSelection.assets(*roots).downstream()
    keys = selection.resolve(context.repository_def.asset_graph)
    digest = hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:16]
    return dg.RunRequest(
        run_key=f"raw-{digest}",
        asset_selection=sorted(keys),
        tags={"yiyu/trigger": "raw_files", "yiyu/sources": ",".join(sorted(sources))},
    )


defs = dg.Definitions(
    schedules=[nightly_refresh], sensors=[raw_files_sensor], resources={"settings": SETTINGS}
)
