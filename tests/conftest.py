"""Shared fixtures: every test that touches files gets its own raw folder, warehouse and key."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.config import REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def worklist_key_pair(tmp_path_factory: pytest.TempPathFactory):
    """One worklist key pair for the session, set for every refresh the tests start, so no
    test generates or reads the pair at the repository's default files."""
    from pipelines.ingest.handles import generate_key_pair

    folder = tmp_path_factory.mktemp("worklist_keys") / "keys"
    public, private = folder / "public.pem", folder / "private.pem"
    generate_key_pair(public, private)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("YIYU_WORKLIST_PUBLIC_KEY", str(public))
        patch.setenv("YIYU_WORKLIST_PRIVATE_KEY", str(private))
        yield public, private


@pytest.fixture
def yiyu_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private YIYU_RAW_DIR (tmp/raw), warehouse (tmp/warehouse) and link secret."""
    raw = tmp_path / "raw"
    raw.mkdir()
    monkeypatch.setenv("YIYU_RAW_DIR", str(raw))
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(tmp_path / "warehouse" / "yiyu.duckdb"))
    monkeypatch.setenv("YIYU_LINK_SECRET", "test-secret-not-for-production-0001")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    return tmp_path


@dataclass(frozen=True)
class SampleRefresh:
    """One real `yiyu refresh` of the shipped sample, shared by the tests that read its output."""

    root: Path
    env: dict[str, str]

    @property
    def published(self) -> Path:
        return self.root / "warehouse" / "yiyu.duckdb"


@pytest.fixture(scope="session")
def sample_refresh(tmp_path_factory: pytest.TempPathFactory) -> SampleRefresh:
    root = tmp_path_factory.mktemp("sample_refresh")
    env = dict(
        os.environ,
        YIYU_RAW_DIR=str(REPO_ROOT / "raw"),
        YIYU_WAREHOUSE_PATH=str(root / "warehouse" / "yiyu.duckdb"),
        YIYU_SECRET_FILE=str(root / "secret"),  # the generated key, as on a fresh machine
        DAGSTER_HOME=str(root / "dagster_home"),
    )
    env.pop("YIYU_LINK_SECRET", None)
    (root / "dagster_home").mkdir()
    yiyu = str(Path(sys.executable).with_name("yiyu"))
    result = subprocess.run([yiyu, "refresh"], env=env, capture_output=True, text=True)
    (root / "refresh.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-4000:]
    return SampleRefresh(root, env)


@pytest.fixture(scope="session")
def sample_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic delivery of every source (400 children), written once."""
    raw = tmp_path_factory.mktemp("sample") / "raw"
    yiyu = str(Path(sys.executable).with_name("yiyu"))
    subprocess.run(
        [yiyu, "sample", "--children", "400", "--seed", "5", "--out", str(raw)], check=True
    )
    return raw


@pytest.fixture(scope="session")
def base_refresh(tmp_path_factory: pytest.TempPathFactory, sample_raw: Path) -> Path:
    """A folder holding `raw/` (sample_raw), its refreshed `warehouse/` and `dagster_home/`,
    refreshed once; a test copies it (tests.processes.copy_tree) rather than refresh again."""
    from tests.processes import copy_tree, refresh

    root = tmp_path_factory.mktemp("base_refresh")
    copy_tree(sample_raw, root / "raw")
    refresh(root, root / "raw")
    return root
