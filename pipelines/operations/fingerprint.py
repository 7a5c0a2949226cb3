"""What a refresh depends on, summarised, so an identical refresh can be skipped.

A refresh's result is a function of the raw files, the code (pipelines, dbt project, suites),
the settings, the key and the calendar day ("after today", freshness). When all of them
equal those of the last successful refresh, running it again would change nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from pipelines.config import REPO_ROOT, Settings
from pipelines.ingest.readers import discover
from pipelines.ingest.secret import secret_fingerprint
from pipelines.ingest.sources import SOURCES

_CODE_PATHS = (
    "pipelines",
    "dbt_project/dbt_project.yml",
    "dbt_project/profiles.yml",
    "dbt_project/models",
    "dbt_project/macros",
    "dbt_project/seeds",
    "dbt_project/tests",
    "expectations",
)
_CODE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".csv", ".json"}


def raw_snapshot(raw: Path) -> dict[str, str]:
    """`source/relative path` -> size and modification time of every raw file under `raw`."""
    snapshot = {}
    for source in SOURCES:
        for path in discover(raw / source):
            stat = path.stat()
            snapshot[path.relative_to(raw).as_posix()] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return snapshot


def _code_digest() -> str:
    digest = hashlib.sha256()
    for part in _CODE_PATHS:
        top = REPO_ROOT / part
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if path.suffix in _CODE_SUFFIXES and "__pycache__" not in path.parts:
                digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def refresh_inputs(config: Settings, environ: Mapping[str, str], key: bytes) -> str:
    """A digest of what a refresh with `config`, in the environment `environ` and with the
    link secret `key`, depends on. The settings part is every YIYU_ variable (the secret only
    through its fingerprint): the run reads some of them itself (the suites' folder)."""
    parts = {
        "raw": raw_snapshot(config.raw_dir),
        "code": _code_digest(),
        "settings": {
            k: v
            for k, v in sorted(environ.items())
            if k.startswith("YIYU_")
            and k not in ("YIYU_LINK_SECRET", "YIYU_FAILPOINT", "YIYU_FAILPOINT_MARKER")
        },
        "key": secret_fingerprint(key),
        "day": date.today().isoformat(),
        "raw_dir": str(config.raw_dir),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _state_file(config: Settings) -> Path:
    return config.warehouse_dir / "last_refresh.json"


def unchanged_since_last_refresh(config: Settings, inputs: str) -> str | None:
    """The run id of the last successful refresh with these inputs, if its output is there."""
    state = _state_file(config)
    if not state.exists() or not config.warehouse_path.exists():
        return None
    last = json.loads(state.read_text())
    return last["run_id"] if last.get("inputs") == inputs else None


def remember_refresh(config: Settings, inputs: str, run_id: str) -> None:
    state = _state_file(config)
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps({"inputs": inputs, "run_id": run_id}))
    os.replace(tmp, state)
