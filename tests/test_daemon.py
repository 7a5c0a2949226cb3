"""The production daemon (deploy/yiyu-dagster-daemon.service) with the project's instance and
workspace: it loads the nightly schedule (02:00 Asia/Shanghai) and the raw-file sensor, and the
sensor's first tick on a landing folder unchanged since the last good refresh starts no run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pipelines.config import REPO_ROOT
from pipelines.operations.instance import ensure_instance
from tests.processes import refresh, yiyu_env

pytestmark = pytest.mark.slow

WORKSPACE = REPO_ROOT / "deploy" / "workspace.yaml"
BIN = Path(sys.executable).parent
SCHEDULE_QUERY = """{ scheduleOrError(scheduleSelector: {repositoryLocationName: "yiyu",
  repositoryName: "__repository__", scheduleName: "nightly_refresh"}) {
  ... on Schedule { cronSchedule executionTimezone futureTicks(limit: 1) { results { timestamp } } }
} }"""


def _wait_for(what: str, probe, seconds: float, daemon: subprocess.Popen):
    deadline = time.monotonic() + seconds
    while (found := probe()) is None:
        assert daemon.poll() is None, f"the daemon ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {seconds:.0f} s"
        time.sleep(1)
    return found


def _stop(daemon: subprocess.Popen) -> None:
    """The daemon's process group (its code server too): TERM, then KILL if it lingers."""
    try:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=10)
    except ProcessLookupError:
        pass


def test_daemon_loads_the_schedule_and_the_sensor_starts_nothing_when_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = REPO_ROOT / "raw"
    home = tmp_path / "dagster_home"
    ensure_instance(home)
    refresh(tmp_path, raw)  # the last good refresh: the landing folder as it is now
    env = yiyu_env(tmp_path, raw, DAGSTER_DISABLE_TELEMETRY="1", HOME=str(tmp_path))
    env.pop("YIYU_TIMEZONE", None)

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        cli_runs = {r.dagster_run.run_id for r in instance.get_run_records()}
        assert len(cli_runs) == 1

        log = (tmp_path / "daemon.log").open("w")
        daemon = subprocess.Popen(
            [BIN / "dagster-daemon", "run", "-w", WORKSPACE, "--log-format", "json"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:

            def loaded():
                states = {s.instigator_name: s for s in instance.all_instigator_state()}
                wanted = ("nightly_refresh", "raw_files_sensor")
                return states if all(name in states for name in wanted) else None

            states = _wait_for("schedule and sensor state", loaded, 120, daemon)
            schedule, sensor = states["nightly_refresh"], states["raw_files_sensor"]
            assert schedule.instigator_type.value == "SCHEDULE"
            assert schedule.instigator_data.cron_schedule == "0 2 * * *"
            assert sensor.instigator_type.value == "SENSOR"

            def ticked():
                ticks = instance.get_ticks(sensor.instigator_origin_id, sensor.selector_id)
                done = [t for t in ticks if t.status.value != "STARTED"]
                return done or None

            ticks = _wait_for("sensor tick", ticked, 90, daemon)
            time.sleep(5)  # a run the tick had requested would be queued and launched by now
            assert daemon.poll() is None
            assert [(t.status.value, t.run_ids) for t in ticks] == [("SKIPPED", [])]
            assert {r.dagster_run.run_id for r in instance.get_run_records()} == cli_runs
        finally:
            _stop(daemon)
            log.close()

    # The same instance and workspace tell the schedule's zone: its next tick is at 02:00 there.
    result = subprocess.run(
        [BIN / "dagster-graphql", "-w", WORKSPACE, "-t", SCHEDULE_QUERY],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    answer = next(line for line in result.stdout.splitlines() if line.startswith('{"data"'))
    loaded_schedule = json.loads(answer)["data"]["scheduleOrError"]
    assert loaded_schedule["cronSchedule"] == "0 2 * * *"
    assert loaded_schedule["executionTimezone"] == "Asia/Shanghai"
    next_tick = loaded_schedule["futureTicks"]["results"][0]["timestamp"]
    local = datetime.fromtimestamp(next_tick, ZoneInfo("Asia/Shanghai"))
    assert (local.hour, local.minute) == (2, 0)
