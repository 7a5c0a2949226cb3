"""What a refresh depends on, summarised, so an identical refresh can be skipped; and the last
good refresh it is compared with.

A refresh's result is a function of the raw files' content, the code (pipelines, dbt project,
suites), the settings, the key and the calendar day ("after today", freshness). When all of
them equal those of the last good refresh (the last run that published, as a whole job) and
no run has started since, running it again would change nothing.

Raw files are judged by content (sha256, contract section 7). A hash is reused from a small
cache beside the warehouse only while the file's size, mtime, ctime and inode are all
unchanged: an edit that restores size and mtime still changes ctime.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from pipelines.config import REPO_ROOT, Settings
from pipelines.ingest.handles import key_fingerprint, refresh_public_key
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
_NOT_SETTINGS = ("YIYU_LINK_SECRET", "YIYU_FAILPOINT", "YIYU_FAILPOINT_MARKER")
HASH_CACHE = "raw_hashes.json"
STATE_FILE = "last_refresh.json"
# A file modified this recently may still be landing: the sensor waits for the next tick.
SETTLING_SECONDS = 10
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RawLook:
    """The landing folder's content (`source/relative path` -> sha256), the files that were
    still changing while it was read, and the size of each file of `content`."""

    content: dict[str, str]
    unsettled: list[str]
    sizes: dict[str, int] = field(default_factory=dict)


def look_at_raw(
    raw: Path, cache: Path | None = None, save: bool = False, sources: Iterable[str] = SOURCES
) -> RawLook:
    """Hash every data file under the folders of `sources` in `raw`, reusing the hashes of
    `cache` (a HASH_CACHE file) for files whose stat is unchanged; with `save`, write the cache
    back (holding the files looked at)."""
    known = _read_json(cache) if cache else {}
    fresh: dict[str, list] = {}
    content, unsettled, sizes = {}, [], {}
    now = time.time()
    for source in sources:
        for path in discover(raw / source, raw):
            rel = path.relative_to(raw).as_posix()
            before = _signature(path)
            entry = known.get(str(path))
            if entry is not None and entry[:-1] == before:
                digest = entry[-1]
            else:
                digest = _sha256(path)
                if _signature(path) != before:
                    unsettled.append(rel)  # written to while it was read
                    continue
            if before[1] > (now - SETTLING_SECONDS) * 1e9:
                unsettled.append(rel)
            content[rel] = digest
            sizes[rel] = before[0]
            fresh[str(path)] = [*before, digest]
    if cache is not None and save:
        _write_json(cache, fresh)
    return RawLook(content, unsettled, sizes)


def content_version(content: Mapping[str, str]) -> str:
    """One digest of a landing content (`look_at_raw().content`, or a part of it)."""
    return hashlib.sha256(json.dumps(dict(content), sort_keys=True).encode()).hexdigest()


def _signature(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def code_digest() -> str:
    digest = hashlib.sha256()
    for part in _CODE_PATHS:
        top = REPO_ROOT / part
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if path.suffix in _CODE_SUFFIXES and "__pycache__" not in path.parts:
                digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def code_version() -> str:
    """`git describe` of the checkout when there is one, else the package version and the
    code digest (an installed copy)."""
    try:
        described = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--tags", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        described = None
    if described is not None and described.returncode == 0 and described.stdout.strip():
        return described.stdout.strip()
    try:
        version = metadata.version("yiyu")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}+{code_digest()[:12]}"


def refresh_inputs(
    config: Settings, environ: Mapping[str, str], key: bytes, raw: dict[str, str] | None = None
) -> str:
    """A digest of what a refresh with `config`, in the environment `environ` and with the
    link secret `key`, depends on (`raw`: the landing content, read now when not given). The
    settings part is every YIYU_ variable (the secret only through its fingerprint): the run
    reads some of them itself (the suites' folder), and the worklist public key's fingerprint."""
    if raw is None:
        raw = look_at_raw(config.raw_dir, config.warehouse_dir / HASH_CACHE).content
    parts = {
        "raw": raw,
        "code": code_digest(),
        "settings": {
            k: v
            for k, v in sorted(environ.items())
            if k.startswith("YIYU_") and k not in _NOT_SETTINGS
        },
        "key": secret_fingerprint(key),
        # A new worklist key pair at the same paths must re-encrypt the handles.
        "worklist_key": key_fingerprint(refresh_public_key(config)),
        "day": config.today().isoformat(),
        "raw_dir": str(config.raw_dir),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def last_good(config: Settings) -> dict:
    """The state of the last good refresh: its `run_id`, `inputs` (None when it published
    only part of the job), the landing content it saw (`raw`), and `dirty` (a run started
    since). Empty before the first."""
    return _read_json(config.warehouse_dir / STATE_FILE)


def unchanged_since_last_refresh(config: Settings, inputs: str) -> str | None:
    """The run id of the last good refresh, when it had these inputs, its file is there and
    no run has started since (a failed, blocked or killed run changed the working state)."""
    last = last_good(config)
    if not config.warehouse_path.exists() or last.get("dirty") or not last.get("inputs"):
        return None
    return last["run_id"] if last["inputs"] == inputs else None


def mark_dirty(config: Settings, run_id: str) -> None:
    """A run starts: until one publishes, the last good refresh is no longer the state."""
    state = last_good(config)
    if state.get("dirty") != run_id:
        _write_json(config.warehouse_dir / STATE_FILE, {**state, "dirty": run_id})


def remember_refresh(
    config: Settings, inputs: str | None, run_id: str, raw: dict[str, str]
) -> None:
    """The run that just published is the last good refresh."""
    state = {"run_id": run_id, "inputs": inputs, "raw": raw}
    _write_json(config.warehouse_dir / STATE_FILE, state)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, value: object) -> None:
    """Whole or not at all: a reader (the sensor) sees the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        json.dump(value, out, sort_keys=True)
    os.replace(tmp, path)
