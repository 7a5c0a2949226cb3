"""For the tests that run, kill or race real `yiyu` processes: their environment, the refresh
itself, and what a refresh leaves (published bytes, marts, run history). The processes a
killed refresh had started must end with it."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil

YIYU = str(Path(sys.executable).with_name("yiyu"))
SECRET = "operations-test-secret-not-for-production"
# Text a database lock error would show; never in a refresh's output.
LOCK_ERROR_TEXT = ("Could not set lock", "Conflicting lock", "lock on file")


def yiyu_env(root: Path, raw: Path, **extra: str) -> dict[str, str]:
    """The environment of a refresh of `raw` into `root`/warehouse, its Dagster home beside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIYU_")}
    env.update(
        YIYU_RAW_DIR=str(raw),
        YIYU_WAREHOUSE_PATH=str(root / "warehouse" / "yiyu.duckdb"),
        YIYU_LINK_SECRET=SECRET,
        DAGSTER_HOME=str(root / "dagster_home"),
    )
    env.update(extra)
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    return env


def yiyu(
    root: Path, raw: Path, *args: str, expect: int | None = 0, **extra: str
) -> subprocess.CompletedProcess:
    """`yiyu <args>` with yiyu_env(); its exit code must be `expect` (None: any)."""
    result = subprocess.run(
        [YIYU, *args], env=yiyu_env(root, raw, **extra), capture_output=True, text=True
    )
    if expect is not None:
        assert result.returncode == expect, (result.returncode, result.stderr[-4000:])
    return result


def refresh(root: Path, raw: Path, *args: str, expect: int | None = 0, **extra: str):
    return yiyu(root, raw, "refresh", *args, expect=expect, **extra)


def published(root: Path) -> Path:
    return root / "warehouse" / "yiyu.duckdb"


def file_digest(path: Path) -> str | None:
    """sha256 of the file's bytes (None when there is no file)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def published_state(root: Path) -> tuple[str | None, str | None]:
    """Byte digests of the published file and its report."""
    folder = root / "warehouse"
    return file_digest(folder / "yiyu.duckdb"), file_digest(folder / "report.html")


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def marts(path: Path) -> dict[str, list[tuple]]:
    names = [
        r[0]
        for r in query(
            path, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1"
        )
    ]
    return {n: query(path, f"SELECT * FROM marts.{n} ORDER BY ALL") for n in names}


def refresh_runs(path: Path) -> dict[str, tuple[str, str | None]]:
    """run id -> (outcome, reason) of meta.refresh_runs."""
    rows = query(path, "SELECT run_id, outcome, reason FROM meta.refresh_runs")
    return {run: (outcome, reason) for run, outcome, reason in rows}


def run_id_of(result: subprocess.CompletedProcess) -> str:
    """The run id a `yiyu refresh` names in its closing line."""
    (run_id,) = re.findall(
        r"^refresh (?:succeeded|FAILED) in .* \(run (\S+)\)$", result.stderr, re.M
    )
    return run_id


def copy_tree(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination, symlinks=True)
    return destination


def late_delivery(raw: Path, work: Path) -> Path:
    """A new register file: one more affordable nursery (changes the slot indicators)."""
    street, community = query(
        work, "SELECT street_code, community_code FROM ingested.divisions ORDER BY ALL LIMIT 1"
    )[0]
    path = raw / "institutions" / "zzz_late_delivery.csv"
    path.write_text(
        "institution_code,institution_name,institution_type,street_code,community_code,"
        "slots,is_affordable,affordable_since,filed_on\n"
        f"91330206LATE0001X,晚到托育园,nursery,{street},{community},120,是,2022-01-01,2022-01-01\n",
        encoding="utf-8",
    )
    return path


def kill_at(point: str, root: Path, raw: Path, timeout: float = 300) -> None:
    """Start a refresh that freezes at failpoint `point`, then SIGKILL its process group."""
    marker = root / f"reached-{point}"
    marker.unlink(missing_ok=True)
    process = subprocess.Popen(
        [YIYU, "refresh"],
        env=yiyu_env(root, raw, YIYU_FAILPOINT=point, YIYU_FAILPOINT_MARKER=str(marker)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert process.poll() is None, f"refresh ended before reaching {point}"
        assert time.monotonic() < deadline, f"refresh never reached {point}"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the whole group: dbt's subprocess too
    process.wait()


def children_of_killed_probe(code: str) -> list[psutil.Process]:
    """Run `code` in a fresh Python; it prints the pids of the processes it started on one
    line, then SIGKILLs itself. Those processes."""
    probe = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    children = [psutil.Process(int(p)) for p in probe.stdout.readline().split()]
    assert probe.wait(timeout=60) == -signal.SIGKILL
    return children


def assert_ends(process: psutil.Process, seconds: float = 10) -> None:
    """The process is gone, or goes within `seconds` (else TimeoutExpired fails the test)."""
    try:
        process.wait(timeout=seconds)
    except psutil.NoSuchProcess:
        pass
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()  # when the test failed: no orphan left behind


def _released(target, args: tuple, start, results) -> None:
    start.wait()
    results.put(target(*args))


def race(target, args: tuple, runs: int, timeout: float = 120) -> list:
    """`target(*args)` in `runs` fresh (spawned) processes released at once: their results.
    `target` must be importable (a module-level function)."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=_released, args=(target, args, start, results)) for _ in range(runs)
    ]
    for process in processes:
        process.start()
    start.set()
    got = [results.get(timeout=timeout) for _ in processes]
    for process in processes:
        process.join(60)
    return got
