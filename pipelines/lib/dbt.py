"""The dbt project (dbt_project/) as the Dagster wiring and the tests run it.

dbt reads the working DuckDB path from the environment (`YIYU_WORK_DB`, see
dbt_project/profiles.yml) and the evaluation settings from `--vars`; both come from settings()
at run time, so a test or a refresh that changes the environment gets its own database.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from pipelines.lib.config import REPO_ROOT, settings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
WORK_DB_ENV = "YIYU_WORK_DB"
# Artifacts of each build in their own folder (runs in parallel never share one); only the
# newest few are kept.
BUILDS_DIR = DBT_PROJECT_DIR / "target" / "builds"
BUILDS_KEPT = 3

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The dbt installed beside this Python (the venv's bin is not always on PATH)."""
    beside = Path(sys.executable).parent / "dbt"
    return os.fspath(beside) if beside.exists() else shutil.which("dbt") or "dbt"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=os.fspath(DBT_PROJECT_DIR),
        profiles_dir=os.fspath(DBT_PROJECT_DIR),
        dbt_executable=dbt_executable(),
    )


def point_dbt_at_work_db() -> Path:
    """Set the profile's database path to settings().work_db (dbt runs read the environment)."""
    path = settings().work_db
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ[WORK_DB_ENV] = os.fspath(path)
    return path


def build_target_dir(run_id: str) -> Path:
    """A fresh artifacts folder for one build; older ones beyond BUILDS_KEPT are removed."""
    BUILDS_DIR.mkdir(parents=True, exist_ok=True)
    previous = sorted(BUILDS_DIR.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in previous[BUILDS_KEPT - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
    return BUILDS_DIR / run_id


def dbt_vars() -> dict[str, str | None]:
    """The dbt vars (dbt_project.yml) from settings(); as_of None: the latest event date."""
    s = settings()
    return {
        "as_of": s.as_of.isoformat() if s.as_of else None,
        "period_start": s.period_start.isoformat(),
        "district_code": s.district_code,
        "district_name": s.district_name,
    }


def dbt_vars_arg() -> list[str]:
    return ["--vars", json.dumps(dbt_vars(), ensure_ascii=False)]


def prepare_manifest() -> Path:
    """Run `dbt parse`, writing dbt_project/target/manifest.json for the Dagster definitions.

    The refresh command and `dev.sh ui` call it before loading the definitions, so the
    asset graph always reflects the dbt files on disk. dbt writes into a private folder and
    the manifest is renamed into place, so a process reading it never sees half a file.
    Parsing needs no database: dbt gets an in-memory one, never the (maybe busy) work file.
    """
    manifest = dbt_project.manifest_path
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=manifest.parent, prefix="parse-") as scratch:
        subprocess.run(
            [
                dbt_executable(),
                "parse",
                "--project-dir",
                DBT_PROJECT_DIR,
                "--profiles-dir",
                DBT_PROJECT_DIR,
                "--target-path",
                scratch,
            ],
            check=True,
            capture_output=True,
            env={**os.environ, WORK_DB_ENV: ":memory:"},
        )
        os.replace(Path(scratch) / "manifest.json", manifest)
    return manifest


def _manifest_is_stale() -> bool:
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "seeds", "macros", "tests"):
        sources.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > built for p in sources)


def ensure_manifest() -> Path:
    """The manifest, prepared again when missing or older than a dbt file (a fresh checkout or
    an edited model imports the definitions)."""
    if _manifest_is_stale():
        prepare_manifest()
    return dbt_project.manifest_path
