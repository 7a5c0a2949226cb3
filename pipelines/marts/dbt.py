"""The dbt project (dbt_project/) as the Dagster wiring and the tests run it.

dbt reads the working DuckDB file, its memory limit and its spill folder from the environment
(profile_env(), see dbt_project/profiles.yml) and the evaluation settings as data, from the
one-row table `meta.run_settings` (write_run_settings(), written with bound parameters before
each build; no setting reaches dbt as a var, so none is ever pasted into SQL text); all come
from the `Settings` of the run, so a test or a refresh with other settings gets its own
database.

Parsing. A build re-parses only the files that changed when it is given dbt's
partial_parse.msgpack from an earlier parse with the same rendered profile (dbt checks it, and
every file, itself: a state that does not fit costs a full parse, never a wrong result). One
such state is kept per profile (parse_state_dir()): written by prepare_manifest() and refreshed
by every build (keep_parse_state()), so the nightly refresh, the tests and the benchmarks, each
with its own work file, do not evict each other's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject

from pipelines.config import REPO_ROOT, Settings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
WORK_DB_ENV = "YIYU_WORK_DB"
MEMORY_LIMIT_ENV = "YIYU_DUCKDB_MEMORY_LIMIT"
SPILL_DIR_ENV = "YIYU_DBT_SPILL_DIR"
# Artifacts of each build in their own folder (runs in parallel never share one); only the
# newest few are kept.
BUILDS_DIR = DBT_PROJECT_DIR / "target" / "builds"
BUILDS_KEPT = 3
# One partial-parse state per rendered profile; the newest few are kept.
PARSE_STATES_DIR = DBT_PROJECT_DIR / "target" / "parse"
PARSE_STATES_KEPT = 8
PARTIAL_PARSE_FILE = "partial_parse.msgpack"

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


def profile_env(settings: Settings) -> dict[str, str]:
    """What dbt_project/profiles.yml reads from the environment: the working DuckDB file,
    DuckDB's memory limit and the folder it spills to beyond it."""
    return {
        WORK_DB_ENV: os.fspath(settings.work_db),
        MEMORY_LIMIT_ENV: settings.duckdb_memory_limit,
        SPILL_DIR_ENV: os.fspath(settings.spill_dir),
    }


def point_dbt_at_work_db(settings: Settings) -> Path:
    """Set the profile's environment (profile_env()) for the dbt runs of this process: the
    dbt resource passes this process's environment to dbt."""
    path = settings.work_db
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ.update(profile_env(settings))
    return path


def build_target_dir(run_id: str) -> Path:
    """A fresh artifacts folder for one build; older ones beyond BUILDS_KEPT are removed."""
    BUILDS_DIR.mkdir(parents=True, exist_ok=True)
    previous = sorted(BUILDS_DIR.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in previous[BUILDS_KEPT - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
    return BUILDS_DIR / run_id


RUN_SETTINGS_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE OR REPLACE TABLE meta.run_settings (
    run_id VARCHAR NOT NULL,
    as_of DATE,
    period_start DATE NOT NULL,
    district_code VARCHAR NOT NULL,
    district_name VARCHAR NOT NULL,
    today DATE NOT NULL,
    timezone VARCHAR NOT NULL
);
"""


def write_run_settings(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> None:
    """The evaluation settings of this build as one row of `meta.run_settings`, for the models
    to read as data: a value is bound, never pasted into SQL (contract section 1). `as_of`
    NULL: the latest event date in the loaded data; `today` in YIYU_TIMEZONE."""
    con.execute(RUN_SETTINGS_DDL)
    con.execute(
        "INSERT INTO meta.run_settings VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            settings.as_of,
            settings.period_start,
            settings.district_code,
            settings.district_name,
            settings.today(),
            settings.timezone,
        ],
    )


def out_of_memory_note(invocation: DbtCliInvocation, settings: Settings) -> str:
    """A note for a failed build whose nodes ran out of DuckDB's memory, naming the setting."""
    try:
        results = invocation.get_artifact("run_results.json").get("results", [])
    except FileNotFoundError:
        return ""
    if not any("out of memory" in str(r.get("message") or "").lower() for r in results):
        return ""
    return (
        f" (DuckDB ran out of memory within YIYU_DUCKDB_MEMORY_LIMIT="
        f"{settings.duckdb_memory_limit}: raise it, or free memory on this machine)"
    )


def dbt_command(*args: str, target: Path) -> list[str | Path]:
    """A dbt command line on this project, its artifacts and log in `target`; the environment
    must carry profile_env() of the settings, and the work file their meta.run_settings."""
    return [dbt_executable(), *args, *_project_args(target)]


def _project_args(target: Path) -> list[str | Path]:
    return [
        "--project-dir",
        DBT_PROJECT_DIR,
        "--profiles-dir",
        DBT_PROJECT_DIR,
        "--target-path",
        target,
        "--log-path",
        target,
    ]


def parse_state_dir(settings: Settings) -> Path:
    """Where the partial-parse state for these settings lives: named by a hash of what dbt
    compares before it reuses one (the profile's environment)."""
    inputs = json.dumps({"profile": profile_env(settings)}, sort_keys=True)
    return PARSE_STATES_DIR / hashlib.sha256(inputs.encode()).hexdigest()[:16]


def _put_atomically(source: Path, destination: Path) -> None:
    """Copy source to destination so that a reader sees the old file or the new, never half."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with (
        source.open("rb") as data,
        tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as partial,
    ):
        shutil.copyfileobj(data, partial)
    os.replace(partial.name, destination)


def use_parse_state(target_dir: Path, settings: Settings) -> None:
    """Give a build (its artifacts folder) the partial-parse state for its settings, when
    there is one; dagster-dbt then leaves the folder's copy alone."""
    target_dir.mkdir(parents=True, exist_ok=True)
    state = parse_state_dir(settings) / PARTIAL_PARSE_FILE
    # None yet (or just evicted by another process): the build parses in full.
    with contextlib.suppress(FileNotFoundError):
        shutil.copyfile(state, target_dir / PARTIAL_PARSE_FILE)


def keep_parse_state(target_dir: Path, settings: Settings) -> None:
    """Keep the state a build parsed (its settings, the files it saw) for the next build with
    the same settings; states beyond PARSE_STATES_KEPT, least recently written, go."""
    parsed = target_dir / PARTIAL_PARSE_FILE
    try:
        _put_atomically(parsed, parse_state_dir(settings) / PARTIAL_PARSE_FILE)
        states = sorted(PARSE_STATES_DIR.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:  # nothing parsed, or a race with another process: only speed is at stake
        return
    for old in states[PARSE_STATES_KEPT:]:
        shutil.rmtree(old, ignore_errors=True)


def prepare_manifest(settings: Settings | None = None) -> Path:
    """Run `dbt parse`, writing dbt_project/target/manifest.json for the Dagster definitions,
    and, given the settings of a build, the partial-parse state for them.

    `yiyu prepare` (before `dev.sh ui`) and the refresh command call it before loading the
    definitions, so the asset graph always reflects the dbt files on disk. dbt parses with the
    profile environment of the build (else the build could not reuse the parse); without
    settings it parses with this process's environment, for the manifest only. `dbt parse`
    never connects, so the work file may be missing or busy. dbt writes into a private folder
    and each file is renamed into place: a reader never sees half a file.
    """
    manifest = dbt_project.manifest_path
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=manifest.parent, prefix="parse-") as scratch:
        target = Path(scratch)
        env = {**os.environ, **(profile_env(settings) if settings else {})}
        subprocess.run(
            dbt_command("parse", target=target), check=True, capture_output=True, env=env
        )
        if settings is not None:
            keep_parse_state(target, settings)
        os.replace(target / "manifest.json", manifest)
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


def ensure_manifest(settings: Settings | None = None) -> Path:
    """The manifest, prepared again when missing or older than a dbt file (a fresh checkout or
    an edited model imports the definitions), with the settings of the coming build if known.

    The manifest (the asset graph) does not depend on the settings. The partial-parse state
    does, through the profile: when a build's settings have none yet, the build parses in full
    and keeps its state (keep_parse_state()), which is cheaper than a separate `dbt parse`
    first."""
    if _manifest_is_stale():
        prepare_manifest(settings)
    return dbt_project.manifest_path
