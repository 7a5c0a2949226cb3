"""How the Dagster wiring runs dbt (pipelines/marts/dbt.py): the stock dagster-dbt resource
with this environment's dbt, the run's profile environment (the settings reach dbt as data,
never as vars), and a build that reuses the parse instead of parsing everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt import DbtCliResource

from pipelines.config import Settings
from tests.fixtures.marts.warehouse import AS_OF, PERIOD_START, write_fixture
from tests.test_marts import DISTRICT, materialize_marts


def test_dbt_runs_as_the_stock_resource_with_the_dbt_installed_beside_this_python():
    from dbt.version import __version__ as dbt_core_version

    from pipelines.defs.marts.assets import defs

    resource = defs.resources["dbt"]
    assert type(resource) is DbtCliResource
    assert Path(resource.dbt_executable) == Path(sys.executable).parent / "dbt"
    reported = subprocess.run(
        [resource.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert f"installed: {dbt_core_version}" in reported


def test_the_build_gets_the_work_file_as_profile_and_no_setting_as_a_var(tmp_path: Path):
    """The evaluation settings reach dbt only as data (meta.run_settings), so a change of them
    neither reaches the command line nor costs a new parse."""
    from pipelines.marts.dbt import dbt_command, parse_state_dir, profile_env

    env = {
        "YIYU_WAREHOUSE_PATH": str(tmp_path / "wh" / "yiyu.duckdb"),
        "YIYU_AS_OF": "2023-06-30",
        "YIYU_DISTRICT_NAME": "某区",
        "YIYU_DUCKDB_MEMORY_LIMIT": "1GB",
    }
    settings = Settings.from_env(env)
    command = [str(part) for part in dbt_command("build", target=tmp_path / "t")]
    assert "--vars" not in command and not any("某区" in part for part in command)
    assert profile_env(settings) == {
        "YIYU_WORK_DB": str(tmp_path / "wh" / "work.duckdb"),
        "YIYU_DUCKDB_MEMORY_LIMIT": "1GB",
        "YIYU_DBT_SPILL_DIR": str(tmp_path / "wh" / "spill"),
    }
    other_values = Settings.from_env({**env, "YIYU_DISTRICT_NAME": "北仑区", "YIYU_AS_OF": ""})
    assert parse_state_dir(other_values) == parse_state_dir(settings)
    other_file = Settings.from_env({**env, "YIYU_WAREHOUSE_PATH": str(tmp_path / "x.duckdb")})
    assert parse_state_dir(other_file) != parse_state_dir(settings)


def _parse_events(build_dir: Path) -> list[str]:
    log = [json.loads(line) for line in (build_dir / "dbt.log").read_text().splitlines()]
    return [e["info"]["name"] for e in log if "artial" in e["info"]["name"]]


def test_a_build_reuses_the_parse_prepared_for_its_settings_and_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """prepare_manifest() parses with the build's profile, without opening the work
    file (held here by a writer), and the build then parses nothing again; a build without
    such a parse parses in full and keeps its parse for the next build."""
    from pipelines.marts.dbt import (
        BUILDS_DIR,
        PARTIAL_PARSE_FILE,
        parse_state_dir,
        prepare_manifest,
    )

    write_fixture(tmp_path / "work.duckdb")
    # The settings materialize_marts() gives the build, already for the parse.
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(tmp_path / "yiyu.duckdb"))
    monkeypatch.setenv("YIYU_AS_OF", AS_OF)
    monkeypatch.setenv("YIYU_PERIOD_START", PERIOD_START)
    monkeypatch.setenv("YIYU_DISTRICT_CODE", DISTRICT)
    monkeypatch.setenv("YIYU_DISTRICT_NAME", "北仑区")
    settings = Settings.from_env()
    writer = duckdb.connect(str(tmp_path / "work.duckdb"))  # dbt could not open the file now
    try:
        prepare_manifest(settings)
    finally:
        writer.close()
    state = parse_state_dir(settings) / PARTIAL_PARSE_FILE
    assert state.exists()

    divisions = [dg.AssetKey(["staging", "stg_ingested__divisions"])]
    result = materialize_marts(tmp_path, monkeypatch, selection=divisions)
    assert result.success
    events = _parse_events(BUILDS_DIR / result.run_id)
    assert "UnableToPartialParse" not in events
    assert "PartialParsingEnabled" in events

    state.unlink()
    result = materialize_marts(tmp_path, monkeypatch, selection=divisions)
    assert result.success
    assert "UnableToPartialParse" in _parse_events(BUILDS_DIR / result.run_id)
    assert state.exists()


def test_the_memory_bound_is_an_option_of_the_database_not_set_per_cursor():
    # dbt-duckdb runs SET for each `settings:` entry on every new cursor, and DuckDB refuses
    # to switch the temp directory once it has spilled there: the build would fail exactly
    # when it needs the bound. `config_options` go to duckdb.connect once.
    import yaml

    from pipelines.marts.dbt import DBT_PROJECT_DIR

    output = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["yiyu"]["outputs"]
    options = output["work"]
    assert {"memory_limit", "temp_directory"} <= set(options["config_options"])
    assert not {"memory_limit", "temp_directory"} & set(options.get("settings") or {})


def test_a_failed_build_fails_the_step_and_names_the_failed_nodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    duckdb.connect(str(tmp_path / "work.duckdb")).close()  # no ingested table to stage
    divisions = dg.AssetKey(["staging", "stg_ingested__divisions"])
    result = materialize_marts(tmp_path, monkeypatch, selection=[divisions])
    assert not result.success
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert "dbt build failed: model.yiyu.stg_ingested__divisions" in str(error)
