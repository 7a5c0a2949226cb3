"""Resident memory and CPU time of a process tree, sampled in a background thread, and a
child process measured with it (`measure`).

The refresh runs in one process, but dbt runs as its child: the tree's RSS is what the
machine has to hold, so children are summed in. CPU seconds are sampled too: on a shared
machine wall time also counts waiting for a core, CPU time does not.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

import psutil

INTERVAL_S = 0.2


def _cpu(times) -> float:
    return times.user + times.system + times.children_user + times.children_system


def tree_usage(root: psutil.Process) -> tuple[int, float]:
    """(RSS bytes, CPU seconds so far) of `root` and its live descendants; reaped children's
    CPU is already in the root's children_* times."""
    rss, cpu = root.memory_info().rss, _cpu(root.cpu_times())
    for proc in root.children(recursive=True):
        # A child may end between listing and reading.
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            rss += proc.memory_info().rss
            cpu += proc.cpu_times().user + proc.cpu_times().system
    return rss, cpu


class TreeSampler:
    """Samples (unix time, RSS, CPU s) of the tree under `pid` until it ends or on exit."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.samples: list[tuple[float, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), *tree_usage(self.root)))
            except psutil.NoSuchProcess:
                return
            self._stop.wait(INTERVAL_S)

    def peak(self, start: float = 0.0, end: float = float("inf")) -> int:
        """Highest RSS sampled in [start, end]; 0 when no sample fell in the interval."""
        return max((rss for t, rss, _ in self.samples if start <= t <= end), default=0)

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds of the tree between the samples nearest to `start` and `end`."""
        times = [t for t, _, _ in self.samples]
        if not times:
            return 0.0
        first = min(bisect_left(times, start), len(times) - 1)
        last = min(bisect_left(times, end), len(times) - 1)
        return self.samples[last][2] - self.samples[first][2]


@dataclass
class Measured:
    """A child process: wall seconds, peak RSS samples, exit code, and its log file."""

    seconds: float
    cpu_s: float
    load_before: float  # 1-minute load average when it started (2 cores)
    sampler: TreeSampler
    code: int
    log: Path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(cmd: list[str], env: dict[str, str], log: Path) -> Measured:
    """Runs `cmd`; CPU seconds cover its whole tree (the machine is shared: wall is noisy)."""
    started, cpu = time.perf_counter(), _children_cpu()
    load = os.getloadavg()[0]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        with TreeSampler(proc.pid) as sampler:
            code = proc.wait()
    seconds = time.perf_counter() - started
    return Measured(seconds, _children_cpu() - cpu, load, sampler, code, log)
