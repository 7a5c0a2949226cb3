"""For the tests that kill a refresh: the processes it had started must end with it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys

import psutil


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
