"""How the Dagster wiring runs dbt (pipelines/marts/dbt.py): no version subprocess or in-process
adapter before a build, and a build that reuses the parse instead of parsing everything."""

from __future__ import annotations

import inspect
import json
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt import DbtCliResource

from tests.fixtures.marts.warehouse import AS_OF, PERIOD_START, write_fixture
from tests.test_marts import DISTRICT, materialize_marts


def test_the_dbt_version_comes_from_this_environment_without_a_subprocess(monkeypatch):
    from pipelines.marts.dbt import dbt_executable, dbt_resource

    resource = dbt_resource()
    reported = subprocess.run(
        [dbt_executable(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    calls = []
    monkeypatch.setattr(
        "dagster_dbt.core.resource.check_output", lambda *a, **k: calls.append(a) or b""
    )
    assert f"installed: {resource._cli_version}" in reported
    assert calls == []
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_dagster_dbt_still_has_the_hooks_the_resource_overrides():
    # Private to dagster-dbt (pinned): an upgrade that renames them would silently bring the
    # `dbt --version` subprocess and the adapter set-up back before every build.
    cli = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in cli
    assert "self._initialize_dbt_core_adapter(" in cli
    assert "_cli_version" in vars(DbtCliResource)


def _parse_events(build_dir: Path) -> list[str]:
    log = [json.loads(line) for line in (build_dir / "dbt.log").read_text().splitlines()]
    return [e["info"]["name"] for e in log if "artial" in e["info"]["name"]]


def test_a_build_reuses_the_parse_prepared_for_its_settings_and_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """prepare_manifest() parses with the build's vars and profile, without opening the work
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
    writer = duckdb.connect(str(tmp_path / "work.duckdb"))  # dbt could not open the file now
    try:
        prepare_manifest()
    finally:
        writer.close()
    state = parse_state_dir() / PARTIAL_PARSE_FILE
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
