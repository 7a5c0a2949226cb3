"""The warmed dbt process (pipelines/marts/dbt_warm.py): the marts step's build runs in a process
that imported dbt and parsed the project beforehand, with the same result as a cold dbt."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from pipelines.marts.dbt import (
    BUILDS_DIR,
    DBT_PROJECT_DIR,
    dbt_command,
    dbt_executable,
    profile_env,
    warm_dbt,
)
from pipelines.marts.dbt_warm import SOCKET_ENV, same_settings
from tests.fixtures.marts.warehouse import AS_OF, PERIOD_START, write_fixture
from tests.processes import assert_ends, children_of_killed_probe
from tests.test_dbt_wiring import _parse_events
from tests.test_marts import DISTRICT, materialize_marts, rows_of

SETTINGS = {
    "YIYU_AS_OF": AS_OF,
    "YIYU_PERIOD_START": PERIOD_START,
    "YIYU_DISTRICT_CODE": DISTRICT,
    "YIYU_DISTRICT_NAME": "北仑区",
}


def _settle(work_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings materialize_marts() gives the build, already for the warm-up's parse."""
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(work_dir / "yiyu.duckdb"))
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)


def _pids(build_dir: Path) -> set[int]:
    log = [json.loads(line) for line in (build_dir / "dbt.log").read_text().splitlines()]
    return {e["info"]["pid"] for e in log}


def _marts(work_db: Path) -> list[list[dict]]:
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        return [
            rows_of(con, f"select * from marts.{table} order by all")
            for table in ("indicator_values", "evaluation_scorecard")
        ]
    finally:
        con.close()


def test_the_warmed_process_builds_without_parsing_what_a_cold_dbt_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    for work_dir in (cold, warm):
        work_dir.mkdir()
        write_fixture(work_dir / "work.duckdb")
    cold_run = materialize_marts(cold, monkeypatch)
    assert cold_run.success

    _settle(warm, monkeypatch)
    with warm_dbt():
        warm_run = materialize_marts(warm, monkeypatch)
        launcher_env = os.environ.get(SOCKET_ENV)
    assert warm_run.success
    assert launcher_env and SOCKET_ENV not in os.environ

    warm_dir = BUILDS_DIR / warm_run.run_id
    # The warm build's log: no parse at all (the cold one parsed), written by one process
    # that is neither this one nor the cold build's.
    assert _parse_events(warm_dir) == []
    assert _parse_events(BUILDS_DIR / cold_run.run_id) != []
    (pid,) = _pids(warm_dir)
    assert pid != os.getpid() and pid not in _pids(BUILDS_DIR / cold_run.run_id)
    # It hands on the parse state it parsed with, for the next refresh to keep.
    assert (warm_dir / "partial_parse.msgpack").exists()
    assert _marts(warm / "work.duckdb") == _marts(cold / "work.duckdb")
    assert _marts(warm / "work.duckdb")[0]  # not two empty tables


def test_a_build_with_other_settings_parses_them_in_the_warmed_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    write_fixture(tmp_path / "work.duckdb")
    _settle(tmp_path, monkeypatch)
    monkeypatch.setenv("YIYU_DISTRICT_NAME", "别的区")  # the warm-up parses with this name
    with warm_dbt():
        run = materialize_marts(tmp_path, monkeypatch)  # ... and the build with 北仑区
    assert run.success
    events = _parse_events(BUILDS_DIR / run.run_id)
    assert "PartialParsingEnabled" in events or "UnableToPartialParse" in events
    con = duckdb.connect(str(tmp_path / "work.duckdb"), read_only=True)
    try:
        names = {
            r[0]
            for r in con.execute(
                "select distinct scope_name from marts.indicator_values "
                "where scope_level = 'district'"
            ).fetchall()
        }
    finally:
        con.close()
    assert names == {"北仑区"}


PARSE = {
    "vars": {"as_of": None, "district_code": "330206"},
    "profile": {"YIYU_WORK_DB": "/w/work.duckdb"},
    "project_dir": "/p",
    "profiles_dir": "/p",
}
ENV = {"YIYU_WORK_DB": "/w/work.duckdb", "DBT_PROJECT_DIR": "/p", "DBT_PROFILES_DIR": "/p/"}
VARS = ["--vars", '{"district_code": "330206", "as_of": null}']


@pytest.mark.parametrize(
    ("args", "env", "same"),
    [
        (["build", *VARS], ENV, True),
        (["build", *VARS, "--select", "x"], ENV, True),  # a selection is applied after parsing
        (["build"], ENV, False),
        (["build", "--vars", '{"district_code": "330211", "as_of": null}'], ENV, False),
        (["build", *VARS, *VARS], ENV, False),
        (["build", *VARS], {**ENV, "YIYU_WORK_DB": "/other.duckdb"}, False),
        (["build", *VARS], {k: v for k, v in ENV.items() if k != "DBT_PROFILES_DIR"}, False),
        (["build", *VARS], {**ENV, "DBT_PROJECT_DIR": "/q"}, False),
    ],
)
def test_same_settings(args, env, same):
    assert same_settings(PARSE, args, env) is same


def _list_models(executable: str, env: dict[str, str], target: Path) -> tuple[int, list[str]]:
    command = dbt_command(
        "ls", "--quiet", "--resource-type", "model", "--output", "name", target=target
    )
    done = subprocess.run(
        [executable, *command[1:]], env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR
    )
    return done.returncode, sorted(done.stdout.split())


def test_the_launcher_gives_dbts_output_and_exit_codes_warm_or_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _settle(tmp_path, monkeypatch)
    env = {**os.environ, **profile_env()}
    launcher = dbt_executable("yiyu-dbt")
    assert Path(launcher).name == "yiyu-dbt"
    code, models = _list_models(dbt_executable(), env, tmp_path / "cold")
    assert code == 0 and "indicator_values" in models
    with warm_dbt():
        warm_env = {**env, SOCKET_ENV: os.environ[SOCKET_ENV]}
        assert _list_models(launcher, warm_env, tmp_path / "warm") == (code, models)
        # The warmed process served one command; the next one runs dbt itself.
        assert _list_models(launcher, warm_env, tmp_path / "after") == (code, models)
    # No warmed process at all (the UI, the daemon): the launcher becomes dbt.
    assert _list_models(launcher, env, tmp_path / "none") == (code, models)
    bad = [dbt_executable(), "build", "--no-such-flag"]
    expected = subprocess.run(bad, env=env, capture_output=True).returncode
    with warm_dbt():
        warm_env = {**env, SOCKET_ENV: os.environ[SOCKET_ENV]}
        assert subprocess.run([launcher, *bad[1:]], env=warm_env).returncode == expected == 2


def test_the_warmed_process_ends_when_the_refresh_is_killed():
    probe = """
import os, signal
import psutil
from pipelines.marts.dbt import warm_dbt

with warm_dbt():
    print(*[p.pid for p in psutil.Process().children()], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""
    (warmed,) = children_of_killed_probe(probe)
    assert "pipelines.marts.dbt_warm" in warmed.cmdline()
    assert_ends(warmed)
