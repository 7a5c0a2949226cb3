"""Shared fixtures: every test that touches files gets its own raw folder, warehouse and key."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def yiyu_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private YIYU_RAW_DIR (tmp/raw), warehouse (tmp/warehouse) and link secret."""
    raw = tmp_path / "raw"
    raw.mkdir()
    monkeypatch.setenv("YIYU_RAW_DIR", str(raw))
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(tmp_path / "warehouse" / "yiyu.duckdb"))
    monkeypatch.setenv("YIYU_LINK_SECRET", "test-secret-not-for-production")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    return tmp_path
