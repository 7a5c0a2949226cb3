"""The no-op skip's summary of inputs changes with every file a refresh's result depends on."""

from __future__ import annotations

import os

import pytest

from pipelines.config import Settings
from pipelines.operations import fingerprint

CODE_FILES = (
    "pipelines/ingest/x.py",
    "dbt_project/dbt_project.yml",
    "dbt_project/profiles.yml",
    "dbt_project/models/m.sql",
    "dbt_project/macros/m.sql",
    "dbt_project/seeds/s.csv",
    "expectations/e.json",
)


@pytest.fixture
def repo(tmp_path, monkeypatch, yiyu_env):
    root = tmp_path / "repo"
    for name in (*CODE_FILES, "dbt_project/models/notes.md", "README.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("v1")
    monkeypatch.setattr(fingerprint, "REPO_ROOT", root)
    return root


def _inputs() -> str:
    return fingerprint.refresh_inputs(Settings.from_env(), os.environ, b"test-key")


@pytest.mark.parametrize("name", CODE_FILES)
def test_a_changed_code_or_settings_file_changes_the_inputs(repo, name):
    before = _inputs()
    (repo / name).write_text("v2")
    assert _inputs() != before


def test_documentation_does_not_change_the_inputs(repo):
    before = _inputs()
    (repo / "dbt_project/models/notes.md").write_text("v2")
    (repo / "README.md").write_text("v2")
    assert _inputs() == before
