"""The nightly schedule and the raw-file sensor, with Dagster's own testing helpers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.definitions import defs
from pipelines.defs.operations.automation import nightly_refresh
from tests.landing import land, tick


def test_sensor_requests_a_run_for_new_files_and_nothing_when_unchanged(yiyu_env):
    land(yiyu_env / "raw" / "births/2023/a.csv")
    first, cursor = tick(None)
    assert isinstance(first, dg.RunRequest)
    selected = {k.to_user_string() for k in first.asset_selection}
    assert {"landing/births", "ingested/births"} <= selected  # observed, then ingested
    assert not {"landing/staff", "ingested/staff"} & selected  # an untouched source is not
    assert {"identity/child_index", "published_warehouse"} <= selected  # downstream follows

    again, cursor_again = tick(cursor)
    assert isinstance(again, dg.SkipReason)
    assert cursor_again == cursor

    land(yiyu_env / "raw" / "staff/s.csv")
    third, _ = tick(cursor)
    selected = {k.to_user_string() for k in third.asset_selection}
    assert "ingested/staff" in selected and "ingested/births" not in selected
    assert third.tags["yiyu/sources"] == "staff"


def test_sensor_sees_a_changed_and_a_removed_file(yiyu_env):
    land(yiyu_env / "raw" / "births/a.csv", "one")
    land(yiyu_env / "raw" / "enrollments/e.csv", "one")
    _, cursor = tick(None)
    land(yiyu_env / "raw" / "births/a.csv", "a longer content")
    (yiyu_env / "raw" / "enrollments" / "e.csv").unlink()
    request, _ = tick(cursor)
    assert request.tags["yiyu/sources"] == "births,enrollments"


def test_schedule_is_nightly_at_two_in_shanghai_and_runs_the_refresh_job():
    assert nightly_refresh.cron_schedule == "0 2 * * *"
    assert nightly_refresh.execution_timezone == "Asia/Shanghai"
    assert nightly_refresh.job_name == "refresh"
    at = datetime(2023, 7, 1, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    context = dg.build_schedule_context(scheduled_execution_time=at)
    requests = list(nightly_refresh.evaluate_tick(context).run_requests or [])
    assert len(requests) == 1
    repo = defs.get_repository_def()
    assert (
        repo.get_schedule_def("nightly_refresh").default_status == dg.DefaultScheduleStatus.RUNNING
    )
    assert repo.get_sensor_def("raw_files_sensor").job_name == "refresh"
