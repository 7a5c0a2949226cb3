"""The project's Dagster instance configuration and the telemetry rule of contract section 7:
laid into a DAGSTER_HOME that has none, an operator's own kept, a warning when telemetry is on,
nothing recorded for upload by a real refresh, and dbt's usage statistics off in the parse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.config import REPO_ROOT
from pipelines.operations.instance import SHIPPED, ensure_instance, telemetry_warning

OPERATORS_OWN = "telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 3\n"


def _instance(home: Path, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.get()


def test_laid_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "fresh" / "dagster"  # the folder itself is created too
    config = ensure_instance(home)
    assert config == home / "dagster.yaml"
    assert config.read_bytes() == SHIPPED.read_bytes()
    assert [p.name for p in home.iterdir()] == ["dagster.yaml"]  # no temporary file left
    with _instance(home, monkeypatch) as instance:
        assert instance.telemetry_enabled is False
        assert instance.nux_enabled is False
        assert type(instance.run_coordinator) is dg.QueuedRunCoordinator
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        # Storage in the home itself, where Dagster keeps it with no configuration.
        assert (home / "history" / "runs.db").is_file()
        assert (home / "schedules" / "schedules.db").is_file()
    assert telemetry_warning(home) is None


def test_operators_own_configuration_is_kept(tmp_path: Path) -> None:
    for name in ("dagster.yaml", "dagster.yml"):
        home = tmp_path / name
        home.mkdir()
        (home / name).write_text(OPERATORS_OWN)
        assert ensure_instance(home) == home / name
        assert (home / name).read_text() == OPERATORS_OWN
        assert sorted(p.name for p in home.iterdir()) == [name]


def test_what_an_unconfigured_instance_queued_is_dropped(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    for queued in (".telemetry/id.yaml", "logs/event.log", "logs/event.log.1", ".logs_queue/a"):
        (home / queued).parent.mkdir(parents=True, exist_ok=True)
        (home / queued).write_text("{}")
    (home / "history").mkdir()
    (home / "history" / "runs.db").write_text("kept")
    ensure_instance(home)
    assert not (home / ".telemetry").exists()
    assert not (home / ".logs_queue").exists()
    assert list((home / "logs").iterdir()) == []
    assert (home / "history" / "runs.db").read_text() == "kept"


@pytest.mark.parametrize(
    "config",
    [
        None,  # no configuration: Dagster's default is telemetry on
        "telemetry:\n  enabled: true\n",
        "run_queue:\n  max_concurrent_runs: 1\n",  # silent about telemetry
        "telemetry: {}\n",
        "telemetry:\n  enabled: 'false'\n",  # a string, which Dagster refuses anyway
        "telemetry: [unclosed\n",
        "",
    ],
)
def test_warning_when_telemetry_is_on(tmp_path: Path, config: str | None) -> None:
    if config is not None:
        (tmp_path / "dagster.yaml").write_text(config)
    warning = telemetry_warning(tmp_path)
    assert warning is not None
    assert warning.startswith("WARNING: Dagster telemetry is on")
    assert "\n" not in warning
    assert str(tmp_path) in warning


def test_no_warning_when_telemetry_is_off(tmp_path: Path) -> None:
    (tmp_path / "dagster.yml").write_text(OPERATORS_OWN)
    assert telemetry_warning(tmp_path) is None


def test_command_lays_the_file_and_warns(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pipelines.operations.instance"]
    fresh = tmp_path / "fresh"
    result = subprocess.run([*command, str(fresh)], capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert (fresh / "dagster.yaml").read_bytes() == SHIPPED.read_bytes()

    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    env = {**os.environ, "DAGSTER_HOME": str(own)}  # no argument: DAGSTER_HOME
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("WARNING: Dagster telemetry is on in ")
    assert (own / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"


@pytest.mark.slow
def test_dbt_parse_sends_no_usage_statistics(tmp_path: Path) -> None:
    """The project's flag holds for any profiles folder: the manifest says tracking is off, and
    dbt leaves no tracking cookie (`.user.yml`) beside the profile."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    shutil.copyfile(REPO_ROOT / "dbt_project" / "profiles.yml", profiles / "profiles.yml")
    dbt = str(Path(sys.executable).with_name("dbt"))
    subprocess.run(
        [
            dbt,
            "parse",
            "--project-dir",
            str(REPO_ROOT / "dbt_project"),
            "--profiles-dir",
            str(profiles),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
            "--quiet",
        ],
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "DO_NOT_TRACK"))},
    )
    metadata = json.loads((tmp_path / "target" / "manifest.json").read_text())["metadata"]
    assert metadata["send_anonymous_usage_stats"] is False
    assert metadata.get("user_id") is None
    assert not (profiles / ".user.yml").exists()


@pytest.mark.slow
def test_refresh_in_a_fresh_home_records_no_telemetry(tmp_path: Path) -> None:
    """A real refresh of the shipped sample in a fresh DAGSTER_HOME laid with the project's
    configuration: no instance id, no queued event, no banner, and no user-level id either."""
    home = tmp_path / "dagster_home"
    user_home = tmp_path / "user"
    user_home.mkdir()
    ensure_instance(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIYU_", "DAGSTER_"))}
    env.update(
        HOME=str(user_home),  # Dagster keeps a user-level telemetry id in ~/.dagster
        YIYU_RAW_DIR=str(REPO_ROOT / "raw"),
        YIYU_WAREHOUSE_PATH=str(tmp_path / "warehouse" / "yiyu.duckdb"),
        YIYU_SECRET_FILE=str(tmp_path / "secret"),
        DAGSTER_HOME=str(home),
    )
    yiyu = str(Path(sys.executable).with_name("yiyu"))
    result = subprocess.run([yiyu, "refresh"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (home / "history" / "runs.db").is_file()  # the run went into this instance
    assert not (home / ".telemetry").exists()
    assert not [p for p in (home / "logs", home / ".logs_queue") if p.exists() and any(p.iterdir())]
    assert not (user_home / ".dagster").exists()
    output = result.stdout + result.stderr
    for banner in ("Telemetry:", "Welcome to Dagster", "Slack", "telemetry is on"):
        assert banner not in output
