"""Errors a person can act on: `yiyu report`, `export` and `submit` refuse with one line that
says what to do (no traceback), exit 1, and leave nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.report import exports
from pipelines.report.exports import WORKBOOK, ExportFolderError, write_exports
from tests.test_report_fixtures import settings_for, write_published

YIYU = str(Path(sys.executable).with_name("yiyu"))


def _yiyu(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIYU_", "DAGSTER_"))}
    env.update(
        YIYU_RAW_DIR=str(tmp_path / "raw"),
        YIYU_WAREHOUSE_PATH=str(tmp_path / "warehouse" / "yiyu.duckdb"),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    return subprocess.run([YIYU, *args], env=env, cwd=tmp_path, capture_output=True, text=True)


def _tree(root: Path) -> dict[str, int | None]:
    """Every path under `root`: its size (None for a folder)."""
    return {
        str(p.relative_to(root)): (None if p.is_dir() else p.stat().st_size)
        for p in sorted(root.rglob("*"))
    }


def _refused(result: subprocess.CompletedProcess) -> str:
    """The one line a refusal prints (exit 1, nothing on stdout, no traceback)."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def published(tmp_path: Path) -> Path:
    (tmp_path / "raw").mkdir()
    return write_published(tmp_path / "warehouse" / "yiyu.duckdb")


def _periods(published: Path) -> list[str]:
    con = duckdb.connect(str(published), read_only=True)
    try:
        rows = con.execute("select distinct period from marts.indicator_values").fetchall()
        return [period for (period,) in rows]
    finally:
        con.close()


@pytest.mark.parametrize(
    "args",
    [
        ("report", "--out", "out/r.html"),
        ("export", "--out", "out/x"),
        ("submit", "--period", "2023Q2"),
    ],
)
def test_before_any_refresh_each_command_says_to_refresh_first(tmp_path, args):
    (tmp_path / "raw").mkdir()
    before = _tree(tmp_path)
    line = _refused(_yiyu(tmp_path, *args))
    path = tmp_path / "warehouse" / "yiyu.duckdb"
    assert line == f"no published warehouse at {path}: run `yiyu refresh` first"
    assert _tree(tmp_path) == before  # no warehouse folder, no lock, no output


@pytest.mark.parametrize(
    ("period", "malformed"),
    [("2099Q9", True), ("2023q2", True), ("banana", True), ("2031Q1", False)],
)
def test_an_unknown_period_is_refused_naming_the_valid_ones(tmp_path, published, period, malformed):
    before = _tree(tmp_path)
    line = _refused(_yiyu(tmp_path, "submit", "--period", period))
    valid = sorted(_periods(published))
    assert valid and line.endswith("valid: " + ", ".join(valid))
    assert period in line
    assert ("like 2023Q2" in line) is malformed
    assert _tree(tmp_path) == before  # no submissions.duckdb


@pytest.mark.parametrize("out", ["a_file", "a_file/x", "a_file/x/y"])
def test_export_into_a_file_or_below_one_is_refused(tmp_path, published, out):
    (tmp_path / "a_file").write_text("not a folder")
    before = _tree(tmp_path)
    line = _refused(_yiyu(tmp_path, "export", "--out", out))
    assert line.startswith(f"--out {out} ")
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("out", ["a_folder", "a_file/r.html"])
def test_report_into_a_folder_or_below_a_file_is_refused(tmp_path, published, out):
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("not a folder")
    before = _tree(tmp_path)
    line = _refused(_yiyu(tmp_path, "report", "--out", out))
    assert line.startswith(f"--out {out} ")
    assert _tree(tmp_path) == before


def test_a_failing_export_leaves_no_folder_nor_partial_file(tmp_path, published, monkeypatch):
    def broken(path: Path, table) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exports, "_write_csv", broken)
    settings = settings_for(published)
    before = _tree(tmp_path)
    with pytest.raises(OSError):
        write_exports(tmp_path / "new" / "deeper" / "out", settings)
    assert _tree(tmp_path) == before  # the workbook written first went with its folders

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / WORKBOOK).write_text("the last export")
    before = _tree(tmp_path)
    with pytest.raises(OSError):
        write_exports(kept, settings)
    assert _tree(tmp_path) == before and (kept / WORKBOOK).read_text() == "the last export"


def test_an_export_replaces_the_files_of_an_earlier_one(tmp_path, published):
    settings = settings_for(published)
    out = tmp_path / "new" / "out"
    first = write_exports(out, settings)
    assert [p.parent for p in first] == [out] * len(first)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in first)
    (out / WORKBOOK).write_text("stale")
    (out / "notes.txt").write_text("the evaluator's own file")
    again = write_exports(out, settings)
    assert again == first
    assert sorted(p.name for p in out.iterdir()) == sorted([*(p.name for p in first), "notes.txt"])
    assert (out / WORKBOOK).read_bytes()[:2] == b"PK"  # the new workbook, not the stale text


def test_an_output_path_that_is_a_file_is_named_in_the_error(tmp_path, published):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ExportFolderError, match="a_file exists and is not a folder"):
        write_exports(tmp_path / "a_file", settings_for(published))
