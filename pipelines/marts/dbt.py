"""The dbt project (dbt_project/) as the Dagster wiring and the tests run it.

dbt reads the working DuckDB file, its memory limit and its spill folder from the environment
(profile_env(), see dbt_project/profiles.yml) and the evaluation settings from `--vars`; all
come from settings() at run time, so a test or a refresh that changes the environment gets its
own database.

Parsing. A build re-parses only the files that changed when it is given dbt's
partial_parse.msgpack from an earlier parse with the same vars and the same rendered profile
(dbt checks both, and every file, itself: a state that does not fit costs a full parse, never a
wrong result). One such state is kept per set of settings (parse_state_dir()): written by
prepare_manifest() and refreshed by every build (keep_parse_state()), so the nightly refresh,
the tests and the benchmarks, each with its own work file, do not evict each other's.
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
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from pipelines.config import REPO_ROOT, settings
from pipelines.marts.dbt_warm import warmed

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
WORK_DB_ENV = "YIYU_WORK_DB"
MEMORY_LIMIT_ENV = "YIYU_DUCKDB_MEMORY_LIMIT"
SPILL_DIR_ENV = "YIYU_DBT_SPILL_DIR"
# Artifacts of each build in their own folder (runs in parallel never share one); only the
# newest few are kept.
BUILDS_DIR = DBT_PROJECT_DIR / "target" / "builds"
BUILDS_KEPT = 3
# One partial-parse state per set of settings (vars and profile); the newest few are kept.
PARSE_STATES_DIR = DBT_PROJECT_DIR / "target" / "parse"
PARSE_STATES_KEPT = 8
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
LAUNCHERS = ("dbt", "yiyu-dbt")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable(name: str = "dbt") -> str:
    """The dbt installed beside this Python (the venv's bin is not always on PATH); with
    name="yiyu-dbt", its launcher that runs a warmed dbt when there is one (dbt_warm.py)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return os.fspath(beside)
    return shutil.which(name) or ("dbt" if name == "dbt" else dbt_executable())


class YiyuDbtCliResource(DbtCliResource):
    """DbtCliResource without the two things its `cli()` does before every dbt command that
    this project does not need (together ~5 s of the marts step at district scale):

    - `dbt --version` in a subprocess (a whole Python + dbt start) to learn the version: when
      the executable is the dbt or its launcher beside this Python (dbt_executable()), it is
      the dbt-core installed in this environment, whose version is already imported.
    - building a dbt adapter in this process (profile, project and macros loaded again): it
      serves only the column-metadata and row-count helpers (`fetch_column_metadata`,
      `fetch_row_counts`), which the marts asset does not use; without it `stream()` yields
      events as dbt emits them.

    Both are private hooks of dagster-dbt (pinned in pyproject.toml);
    tests/test_dbt_wiring.py fails when an upgrade renames them.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        executable = Path(self.dbt_executable)
        if executable.parent == Path(sys.executable).parent and executable.name in LAUNCHERS:
            from dbt.version import __version__

            return version.parse(__version__)
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource() -> DbtCliResource:
    return YiyuDbtCliResource(
        project_dir=os.fspath(DBT_PROJECT_DIR),
        profiles_dir=os.fspath(DBT_PROJECT_DIR),
        dbt_executable=dbt_executable("yiyu-dbt"),
    )


def profile_env() -> dict[str, str]:
    """What dbt_project/profiles.yml reads from the environment, from settings(): the working
    DuckDB file, DuckDB's memory limit and the folder it spills to beyond it."""
    s = settings()
    return {
        WORK_DB_ENV: os.fspath(s.work_db),
        MEMORY_LIMIT_ENV: s.duckdb_memory_limit,
        SPILL_DIR_ENV: os.fspath(s.spill_dir),
    }


def point_dbt_at_work_db() -> Path:
    """Set the profile's environment (profile_env()) for the dbt runs of this process."""
    path = settings().work_db
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ.update(profile_env())
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


def dbt_command(*args: str, target: Path) -> list[str | Path]:
    """A dbt command line on this project with the vars from settings(), its artifacts and
    log in `target`; the environment must carry profile_env()."""
    return [
        dbt_executable(),
        *args,
        "--project-dir",
        DBT_PROJECT_DIR,
        "--profiles-dir",
        DBT_PROJECT_DIR,
        "--target-path",
        target,
        "--log-path",
        target,
        *dbt_vars_arg(),
    ]


def parse_state_dir() -> Path:
    """Where the partial-parse state for the current settings lives: named by a hash of what
    dbt compares before it reuses one (the vars and the profile's environment)."""
    inputs = json.dumps({"vars": dbt_vars(), "profile": profile_env()}, sort_keys=True)
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


def use_parse_state(target_dir: Path) -> None:
    """Give a build (its artifacts folder) the partial-parse state for the current settings,
    when there is one; dagster-dbt then leaves the folder's copy alone."""
    target_dir.mkdir(parents=True, exist_ok=True)
    # None yet (or just evicted by another process): the build parses in full.
    with contextlib.suppress(FileNotFoundError):
        shutil.copyfile(parse_state_dir() / PARTIAL_PARSE_FILE, target_dir / PARTIAL_PARSE_FILE)


def keep_parse_state(target_dir: Path) -> None:
    """Keep the state a build parsed (its settings, the files it saw) for the next build with
    the same settings; states beyond PARSE_STATES_KEPT, least recently written, go."""
    parsed = target_dir / PARTIAL_PARSE_FILE
    try:
        _put_atomically(parsed, parse_state_dir() / PARTIAL_PARSE_FILE)
        states = sorted(PARSE_STATES_DIR.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:  # nothing parsed, or a race with another process: only speed is at stake
        return
    for old in states[PARSE_STATES_KEPT:]:
        shutil.rmtree(old, ignore_errors=True)


def warm_dbt() -> contextlib.AbstractContextManager[None]:
    """A dbt process that imports dbt and parses the project now, with the settings of this
    process's refresh, for its build (pipelines/marts/dbt_warm.py)."""
    scratch = Path(tempfile.mkdtemp(prefix="yiyu-dbt-"))
    target = scratch / "parse"
    use_parse_state(target)
    parse = {
        "argv": [os.fspath(a) for a in dbt_command("parse", target=target)[1:]],
        "target": os.fspath(target),
        "vars": dbt_vars(),
        "profile": profile_env(),
        "project_dir": os.fspath(DBT_PROJECT_DIR),
        "profiles_dir": os.fspath(DBT_PROJECT_DIR),
    }
    return warmed(scratch, parse, env={**os.environ, **profile_env()})


def prepare_manifest() -> Path:
    """Run `dbt parse`, writing dbt_project/target/manifest.json for the Dagster definitions,
    and the partial-parse state for the current settings.

    The refresh command and `dev.sh ui` call it (through ensure_manifest()) before loading the
    definitions, so the asset graph always reflects the dbt files on disk. dbt parses with the
    vars and the profile environment of the build (else the build could not reuse the parse);
    `dbt parse` never connects, so the work file may be missing or busy. dbt writes into a
    private folder and each file is renamed into place: a reader never sees half a file.
    """
    manifest = dbt_project.manifest_path
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=manifest.parent, prefix="parse-") as scratch:
        subprocess.run(
            dbt_command("parse", target=Path(scratch)),
            check=True,
            capture_output=True,
            env={**os.environ, **profile_env()},
        )
        keep_parse_state(Path(scratch))
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
    an edited model imports the definitions).

    The manifest (the asset graph) does not depend on the settings. The partial-parse state
    does: when the current settings have none yet, the build parses in full and keeps its
    state (keep_parse_state()), which is cheaper than a separate `dbt parse` first."""
    if _manifest_is_stale():
        prepare_manifest()
    return dbt_project.manifest_path
