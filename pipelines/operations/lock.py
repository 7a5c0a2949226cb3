"""One writer per warehouse folder (contract section 7): an operating-system lock (flock) on a
file in the folder, taken by every command and run that writes the folder.

The kernel releases the lock when the holding process ends, however it ends (a kill too), so
a stale lock is impossible. The file also names its holder (command, run id, start time) for
the message of whoever finds it held. Within one process the lock is re-entrant: `yiyu refresh`
takes it before the run, and the run's resource takes it again without waiting on itself.
The warehouse folder must be on a local file system (flock is not reliable over NFS).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = "writer.lock"

# Warehouse folder -> [file descriptor, holds] of the locks this process holds.
_held: dict[str, list[int]] = {}
_guard = threading.Lock()


class WarehouseBusy(RuntimeError):
    """Another process holds the writer lock; the message names it in one line."""


def lock_path(folder: Path) -> Path:
    return folder / LOCK_FILE


def holder(folder: Path) -> str:
    """Who holds (or last held) the lock of `folder`, as written into the lock file."""
    try:
        info = json.loads(lock_path(folder).read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process (it has not named itself yet)"
    where = f"process {info.get('pid', '?')} on {info.get('host', '?')}"
    return (
        f"{info.get('command', '?')} (run {info.get('run_id') or '-'}, started"
        f" {info.get('started_at', '?')}, {where})"
    )


@contextlib.contextmanager
def writer_lock(
    folder: Path,
    command: str,
    run_id: str | None = None,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the writer lock of the warehouse folder `folder` for the block. Held by another
    process: raises WarehouseBusy, or with `wait` calls `on_wait(holder)` and waits."""
    folder.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(folder)
    with _guard:
        mine = _held.get(key)
        if mine is not None:
            mine[1] += 1
    if mine is not None:
        try:
            yield
        finally:
            with _guard:
                mine[1] -= 1
        return
    fd = os.open(lock_path(folder), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                busy = f"the warehouse folder {folder} is in use by {holder(folder)}"
                raise WarehouseBusy(busy) from None
            if on_wait is not None:
                on_wait(holder(folder))
            fcntl.flock(fd, fcntl.LOCK_EX)
        _name_holder(fd, command, run_id)
        with _guard:
            _held[key] = [fd, 1]
        try:
            yield
        finally:
            with _guard:
                del _held[key]
    finally:
        os.close(fd)  # releases the lock


def _name_holder(fd: int, command: str, run_id: str | None) -> None:
    info = {
        "command": command,
        "run_id": run_id,
        "started_at": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
