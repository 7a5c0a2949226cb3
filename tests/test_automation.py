"""The nightly schedule and the raw-file sensor, with Dagster's own testing helpers."""

from __future__ import annotations

import os
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.definitions import defs
from pipelines.defs.operations.automation import nightly_refresh, raw_files_sensor
from pipelines.resources import SETTINGS


def _tick(cursor: str | None):
    with dg.build_sensor_context(
        cursor=cursor,
        repository_def=defs.get_repository_def(),
        instance=dg.DagsterInstance.ephemeral(),
        resources={"settings": SETTINGS},
    ) as context:
        return raw_files_sensor(context), context.cursor


def _write(root, rel, text="x"):
    """A file that landed a minute ago (a file modified just now may still be landing)."""
    path = root / "raw" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    landed = time.time() - 60
    os.utime(path, (landed, landed))
    return path


def test_sensor_requests_a_run_for_new_files_and_nothing_when_unchanged(yiyu_env):
    _write(yiyu_env, "births/2023/a.csv")
    first, cursor = _tick(None)
    assert isinstance(first, dg.RunRequest)
    selected = {k.to_user_string() for k in first.asset_selection}
    assert {"landing/births", "ingested/births"} <= selected  # observed, then ingested
    assert not {"landing/staff", "ingested/staff"} & selected  # an untouched source is not
    assert {"identity/child_index", "published_warehouse"} <= selected  # downstream follows

    again, cursor_again = _tick(cursor)
    assert isinstance(again, dg.SkipReason)
    assert cursor_again == cursor

    _write(yiyu_env, "staff/s.csv")
    third, _ = _tick(cursor)
    selected = {k.to_user_string() for k in third.asset_selection}
    assert "ingested/staff" in selected and "ingested/births" not in selected
    assert third.tags["yiyu/sources"] == "staff"


def test_sensor_sees_a_changed_and_a_removed_file(yiyu_env):
    _write(yiyu_env, "births/a.csv", "one")
    _write(yiyu_env, "enrollments/e.csv", "one")
    _, cursor = _tick(None)
    _write(yiyu_env, "births/a.csv", "a longer content")
    (yiyu_env / "raw" / "enrollments" / "e.csv").unlink()
    request, _ = _tick(cursor)
    assert request.tags["yiyu/sources"] == "births,enrollments"


def test_schedule_is_nightly_at_two_in_shanghai_and_runs_the_refresh_job():
    assert nightly_refresh.cron_schedule == "0 2 * * *"
    assert nightly_refresh.execution_timezone == "Asia/Shanghai"
    assert nightly_refresh.job_name == "refresh"
    tick = datetime(2023, 7, 1, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    requests = list(nightly_refresh.evaluate_tick(context).run_requests or [])
    assert len(requests) == 1
    repo = defs.get_repository_def()
    assert (
        repo.get_schedule_def("nightly_refresh").default_status == dg.DefaultScheduleStatus.RUNNING
    )
    assert repo.get_sensor_def("raw_files_sensor").job_name == "refresh"
