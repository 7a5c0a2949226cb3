"""Resident memory of a process tree, sampled in a background thread.

The refresh runs in one process, but dbt runs as its child: the tree's RSS is what the
machine has to hold, so children are summed in.
"""

from __future__ import annotations

import contextlib
import threading
import time

import psutil

INTERVAL_S = 0.2


def tree_rss(root: psutil.Process) -> int:
    total = 0
    for proc in (root, *root.children(recursive=True)):
        # A child may end between listing and reading.
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += proc.memory_info().rss
    return total


class RssSampler:
    """Samples (unix time, bytes) of the tree under `pid` until the root ends or `stop()`."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), tree_rss(self.root)))
            except psutil.NoSuchProcess:
                return
            self._stop.wait(INTERVAL_S)

    def peak(self, start: float = 0.0, end: float = float("inf")) -> int:
        """Highest sample in [start, end]; 0 when no sample fell in the interval."""
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)
