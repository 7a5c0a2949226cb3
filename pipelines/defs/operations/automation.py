"""Unattended operation: the nightly refresh and a sensor for newly landed raw files.

The sensor judges the landing folder by content, as the refresh does (contract section 7):
files whose content hash differs from what it last saw (its cursor; on its first tick, the
last good refresh's), added or removed. A file still being written makes it wait a tick.
"""

import json

import dagster as dg

from pipelines.config import timezone_from_env
from pipelines.defs.ingest.landing import landing_key
from pipelines.defs.operations.jobs import refresh_job
from pipelines.operations.fingerprint import HASH_CACHE, content_version, last_good, look_at_raw
from pipelines.operations.guard import TRIGGER_TAG
from pipelines.resources import SETTINGS, YiyuSettings

nightly_refresh = dg.ScheduleDefinition(
    name="nightly_refresh",
    job=refresh_job,
    cron_schedule="0 2 * * *",
    execution_timezone=timezone_from_env(),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Full refresh every night at 02:00 in YIYU_TIMEZONE (default Asia/Shanghai).",
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
    config = settings.get()
    look = look_at_raw(config.raw_dir, config.warehouse_dir / HASH_CACHE)
    if look.unsettled:
        return dg.SkipReason(
            f"{len(look.unsettled)} raw files still being written (first: {look.unsettled[0]}):"
            " waiting for the next tick"
        )
    current = look.content
    # No cursor yet (a new daemon): what the last good refresh saw, so an unchanged landing
    # folder starts nothing.
    previous = json.loads(context.cursor) if context.cursor else last_good(config).get("raw") or {}
    sources = changed_sources(previous, current)
    context.update_cursor(json.dumps(current, sort_keys=True))
    if not sources:
        return dg.SkipReason("no new, changed or removed raw files")
    roots = [landing_key(s) for s in sorted(sources)]
    selection = dg.AssetSelection.assets(*roots).downstream()
    keys = selection.resolve(context.repository_def.asset_graph)
    return dg.RunRequest(
        run_key=f"raw-{content_version(current)[:16]}",
        asset_selection=sorted(keys),
        tags={TRIGGER_TAG: "sensor", "yiyu/sources": ",".join(sorted(sources))},
    )


defs = dg.Definitions(
    schedules=[nightly_refresh], sensors=[raw_files_sensor], resources={"settings": SETTINGS}
)
