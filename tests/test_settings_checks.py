"""Settings checked before any work (contract section 1): each bad value stops the command with
one line naming the variable, showing the value (never a secret's) and what is expected; exit
code 2; no traceback; nothing changed. A Dagster run with a bad value fails before its first
step. Settings reach SQL only as data."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from pipelines.config import SettingError, Settings, check_landing_folder
from tests.processes import copy_tree, marts, published, query, refresh, yiyu

BAD_SETTINGS = [
    # (variable, value, what the message must say is expected)
    ("YIYU_AS_OF", "2023-02-30", "an existing date"),
    ("YIYU_PERIOD_START", "2023-13-01", "an existing date"),
    ("YIYU_SMALL_CELL_K", "1", "at least 2"),
    ("YIYU_SMALL_CELL_K", "five", "at least 2"),
    ("YIYU_TIMEZONE", "Asia/Beilun", "time zone"),
    ("YIYU_DUCKDB_MEMORY_LIMIT", "a lot", "a size DuckDB reads"),
]


@pytest.mark.parametrize(("variable", "value", "expected"), BAD_SETTINGS)
def test_a_bad_value_is_one_line_naming_the_variable(variable, value, expected):
    with pytest.raises(SettingError) as bad:
        Settings.from_env({variable: value})
    message = str(bad.value)
    assert message.startswith(f"{variable}={value!r}: expected ")
    assert expected in message and "\n" not in message


def test_the_period_start_after_an_explicit_as_of_is_refused():
    with pytest.raises(SettingError, match=r"YIYU_PERIOD_START='2023-12-01': .*2023-06-30"):
        Settings.from_env({"YIYU_AS_OF": "2023-06-30", "YIYU_PERIOD_START": "2023-12-01"})


def test_the_defaults_and_the_time_zone_of_today():
    settings = Settings.from_env({})
    assert (settings.small_cell_k, settings.timezone) == (5, "Asia/Shanghai")
    assert settings.duckdb_memory_limit == "4GB"


def test_a_landing_folder_must_exist_and_hold_a_source_folder(tmp_path):
    with pytest.raises(SettingError, match=r"YIYU_RAW_DIR=.*an existing folder"):
        check_landing_folder(tmp_path / "missing")
    (tmp_path / "birth").mkdir()  # misspelled: no source folder
    with pytest.raises(SettingError, match=r"YIYU_RAW_DIR=.*holding a source folder"):
        check_landing_folder(tmp_path)
    (tmp_path / "births").mkdir()
    check_landing_folder(tmp_path)


def _folder_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


REFRESH_CASES = [
    *((variable, value, value) for variable, value, _ in BAD_SETTINGS),
    ("YIYU_PERIOD_START", "2023-12-01", "2023-12-01"),  # with YIYU_AS_OF=2023-06-30 below
    ("YIYU_LINK_SECRET", "short-secret-xyz", None),  # never shown
    ("YIYU_RAW_DIR", "missing", "missing"),
    ("YIYU_RAW_DIR", "no_source", "no_source"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("variable", "value", "shown"), REFRESH_CASES)
def test_refresh_with_a_bad_setting_stops_with_exit_2_and_changes_nothing(
    tmp_path, variable, value, shown
):
    raw = tmp_path / "raw"
    (raw / "births").mkdir(parents=True)
    (tmp_path / "no_source" / "birth").mkdir(parents=True)
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    (warehouse / "yiyu.duckdb").write_bytes(b"the published file of an earlier refresh")
    before = _folder_digest(tmp_path)
    extra = {variable: str(tmp_path / value) if variable == "YIYU_RAW_DIR" else value}
    if variable == "YIYU_PERIOD_START" and value == "2023-12-01":
        extra["YIYU_AS_OF"] = "2023-06-30"  # the case, with an explicit as-of date
    result = refresh(tmp_path, raw, expect=2, **extra)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(variable) and "Traceback" not in result.stderr
    if shown is None:
        assert value not in result.stderr  # a secret's value is never shown
    else:
        assert shown in lines[0]
    assert _folder_digest(tmp_path) == before  # nothing changed, nothing recorded
    assert not (tmp_path / "dagster_home" / "history").exists()


@pytest.mark.slow
@pytest.mark.parametrize("command", [["report", "--out", "r.html"], ["export", "--out", "x"]])
def test_other_commands_check_the_settings_they_use(tmp_path, command):
    result = yiyu(tmp_path, tmp_path, *command, expect=2, YIYU_SMALL_CELL_K="1")
    assert result.stderr.strip() == "YIYU_SMALL_CELL_K='1': expected a whole number of at least 2"
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "x").exists()


def test_a_dagster_run_with_a_bad_setting_fails_before_its_first_step(yiyu_env, monkeypatch):
    """As a run the daemon starts: the settings resource checks them when it is set up."""
    from pipelines.definitions import defs

    monkeypatch.setenv("YIYU_AS_OF", "2023-02-30")
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("refresh").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert not result.success
    events = [e.dagster_event for e in instance.all_logs(result.run_id) if e.dagster_event]
    assert "STEP_START" not in {e.event_type_value for e in events}
    (failure,) = [e for e in events if e.event_type_value == "RESOURCE_INIT_FAILURE"]
    error = failure.event_specific_data.error
    assert error.message.strip().endswith(
        "YIYU_AS_OF='2023-02-30': expected an existing date as YYYY-MM-DD"
    )
    assert not (yiyu_env / "warehouse").exists()  # nothing written, no run recorded


DISTRICT_NAME = "北仑区' || 'X"
DISTRICT_CODE = "330206' OR '1'='1"
AS_WRITTEN = {DISTRICT_CODE: "330206", DISTRICT_NAME: "北仑区"}  # -> the defaults


@pytest.fixture(scope="module")
def quoted_settings_refresh(tmp_path_factory, base_refresh) -> Path:
    """The base refresh again with a district code and name that would break SQL text."""
    root = copy_tree(base_refresh, tmp_path_factory.mktemp("quoted") / "case")
    refresh(root, root / "raw", YIYU_DISTRICT_NAME=DISTRICT_NAME, YIYU_DISTRICT_CODE=DISTRICT_CODE)
    return root


@pytest.mark.slow
def test_a_district_name_with_quotes_is_published_as_written(quoted_settings_refresh):
    names = query(
        published(quoted_settings_refresh),
        "SELECT DISTINCT scope_code, scope_name FROM marts.indicator_values"
        " WHERE scope_level = 'district'",
    )
    assert names == [(DISTRICT_CODE, DISTRICT_NAME)]


@pytest.mark.slow
def test_a_district_code_with_quotes_computes_the_same_figures(
    quoted_settings_refresh, base_refresh
):
    """Every mart, row for row, as the plain settings' once the code and name are put back."""
    quoted = marts(published(quoted_settings_refresh))
    plain = marts(published(base_refresh))
    assert quoted.keys() == plain.keys() and plain["indicator_values"]
    for table, rows in quoted.items():
        restored = [
            tuple(AS_WRITTEN.get(v, v) if isinstance(v, str) else v for v in r) for r in rows
        ]
        assert Counter(restored) == Counter(plain[table]), table


@pytest.mark.slow
def test_the_settings_table_holds_the_values_as_written(quoted_settings_refresh):
    """What the dbt models read as data: written with bound parameters before each build."""
    work = quoted_settings_refresh / "warehouse" / "work.duckdb"
    assert query(work, "SELECT district_code, district_name FROM meta.run_settings") == [
        (DISTRICT_CODE, DISTRICT_NAME)
    ]
