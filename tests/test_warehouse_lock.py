"""One writer per warehouse folder (contract section 7): an operating-system lock, released when
its process ends (a kill too); a second refresh exits 3 naming the holder, or waits with
`--wait`; a run started by the daemon or the UI queues behind it; no database lock error and
no partial history rows from the run that lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time

import dagster as dg
import pytest

from pipelines.operations.lock import WarehouseBusy, writer_lock
from pipelines.resources import YiyuSettings
from tests.processes import (
    LOCK_ERROR_TEXT,
    YIYU,
    copy_tree,
    late_delivery,
    published,
    query,
    refresh_runs,
    run_id_of,
    yiyu_env,
)

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipelines.operations.lock import writer_lock
    with writer_lock(Path(sys.argv[1]), "yiyu submit", "run-of-the-holder"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold(folder, seconds: float) -> subprocess.Popen:
    """Another process holding the folder's lock for `seconds`."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_held_lock_names_its_holder_and_goes_with_a_killed_process(tmp_path):
    holder = _hold(tmp_path, 600)
    with pytest.raises(WarehouseBusy) as busy, writer_lock(tmp_path, "yiyu refresh"):
        pass
    message = str(busy.value)
    assert "yiyu submit" in message and "run-of-the-holder" in message
    assert f"process {holder.pid}" in message and "\n" not in message
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with writer_lock(tmp_path, "yiyu refresh"), writer_lock(tmp_path, "the same process again"):
        pass  # released by the kill; re-entrant within one process


def test_waiting_takes_the_lock_once_it_is_released(tmp_path):
    holder = _hold(tmp_path, 2)
    waited = []
    started = time.monotonic()
    with writer_lock(tmp_path, "yiyu refresh", wait=True, on_wait=waited.append):
        assert time.monotonic() - started >= 1.5  # only once the holder let go
    assert "run-of-the-holder" in waited[0]
    holder.wait()


def test_a_run_the_daemon_or_the_ui_starts_queues_behind_the_lock(yiyu_env, monkeypatch):
    """The settings resource takes the lock when the run starts, waiting for the holder."""
    (yiyu_env / "raw" / "births").mkdir()
    warehouse = yiyu_env / "warehouse"
    seen = []

    @dg.asset
    def probe(settings: YiyuSettings) -> None:
        seen.append(time.monotonic())

    holder = _hold(warehouse, 3)
    started = time.monotonic()
    result = dg.materialize(
        [probe], resources={"settings": YiyuSettings()}, instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    assert seen[0] - started >= 2  # it waited for the holder, then ran
    holder.wait()
    work = warehouse / "work.duckdb"
    runs = query(work, "SELECT run_id, outcome, trigger FROM meta.refresh_runs")
    assert runs == [(result.run_id, "succeeded", "ui")]


def _start(root, raw, name: str, *args: str) -> subprocess.Popen:
    """A refresh in the background, its output in `root`/`name`.log (a pipe nobody reads
    while it runs would fill and block it)."""
    log = (root / f"{name}.log").open("w")
    process = subprocess.Popen(
        [YIYU, "refresh", *args], env=yiyu_env(root, raw), stdout=log, stderr=log, text=True
    )
    log.close()
    return process


def _output(root, name: str) -> str:
    return (root / f"{name}.log").read_text()


def _history_run_ids(path) -> set[str]:
    checks = query(path, "SELECT DISTINCT run_id FROM quality.check_results")
    return {r[0] for r in checks} | set(refresh_runs(path))


@pytest.mark.slow
@pytest.mark.parametrize("wait", [False, True], ids=["exit_3", "wait"])
def test_two_refreshes_a_second_apart(tmp_path, base_refresh, wait):
    root = copy_tree(base_refresh, tmp_path / "case")
    raw = root / "raw"
    late_delivery(raw, root / "warehouse" / "work.duckdb")  # the first has work to do
    history_before = _history_run_ids(published(root))
    first = _start(root, raw, "first")
    time.sleep(1)
    second = _start(root, raw, "second", *(["--wait"] if wait else []))
    if not wait:
        assert second.wait(timeout=60) == 3, _output(root, "second")
        assert first.poll() is None  # it stopped at once, while the first runs on
    assert first.wait(timeout=600) == 0, _output(root, "first")[-3000:]
    first_out = _output(root, "first")
    winner = run_id_of(subprocess.CompletedProcess([], 0, "", first_out))
    if wait:
        assert second.wait(timeout=600) == 0, _output(root, "second")[-3000:]
    out = _output(root, "second")
    if wait:
        assert "waiting: the warehouse folder is in use by yiyu refresh" in out
        assert "nothing new since refresh " + winner in out
    else:
        (line,) = out.strip().splitlines()
        assert line.startswith("refresh not started: the warehouse folder")
        assert f"in use by yiyu refresh (run {winner}, started " in line
    for text in LOCK_ERROR_TEXT:
        assert text not in out + first_out
    # History: the winner's rows only; none of the run that lost.
    assert _history_run_ids(published(root)) == history_before | {winner}
    assert refresh_runs(published(root))[winner] == ("published", None)


@pytest.mark.slow
def test_submit_waits_for_a_refresh_to_publish(tmp_path, base_refresh):
    root = copy_tree(base_refresh, tmp_path / "case")
    raw = root / "raw"
    late_delivery(raw, root / "warehouse" / "work.duckdb")
    refreshing = _start(root, raw, "refresh")
    time.sleep(1)
    env = yiyu_env(root, raw)
    period = query(published(root), "SELECT max(period) FROM marts.indicator_values")[0][0]
    submit = subprocess.run(
        [YIYU, "submit", "--period", period], env=env, capture_output=True, text=True
    )
    assert refreshing.wait(timeout=600) == 0, _output(root, "refresh")[-3000:]
    assert submit.returncode == 0, submit.stderr
    assert "waiting: the warehouse folder is in use by yiyu refresh" in submit.stderr
    # The vintage holds the figures of the file the refresh published, not of the one before.
    figures = "SELECT indicator_code, scope_code, numerator, denominator FROM {} WHERE period = ?"
    frozen = query(
        root / "warehouse" / "submissions.duckdb",
        figures.format("vintage_indicator_values") + " ORDER BY ALL",
        [period],
    )
    now = query(
        published(root), figures.format("marts.indicator_values") + " ORDER BY ALL", [period]
    )
    assert frozen == now


def test_a_lock_taken_in_one_thread_is_re_entered_in_the_same_process(tmp_path):
    entered = threading.Event()

    def inner() -> None:
        with writer_lock(tmp_path, "the run's resource"):
            entered.set()

    with writer_lock(tmp_path, "yiyu refresh"):
        thread = threading.Thread(target=inner)
        thread.start()
        thread.join(timeout=5)
    assert entered.is_set()
