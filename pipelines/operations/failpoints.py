"""Named points where a test injects a fault into a refresh (the fault matrix, the kill tests).

`YIYU_FAILPOINT` holds one or more comma-separated entries:
- `<name>`: reaching that point touches `YIYU_FAILPOINT_MARKER` and waits for ever, so a
  test can SIGKILL the process at a known moment;
- `<name>:raise`: reaching that point raises `InjectedFault`;
- a condition name (`fault_active()`), such as `disk_full`, that code asks about.
Unset, each costs one dictionary look-up.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


class InjectedFault(RuntimeError):
    """A failure a test asked for; its message names the failpoint."""


def _entries() -> set[str]:
    return {e.strip() for e in os.environ.get("YIYU_FAILPOINT", "").split(",") if e.strip()}


def failpoint(name: str) -> None:
    entries = _entries()
    if f"{name}:raise" in entries:
        raise InjectedFault(f"fault injected at failpoint {name}")
    if name not in entries:
        return
    marker = os.environ.get("YIYU_FAILPOINT_MARKER")
    if marker:
        Path(marker).write_text(name)
    while True:
        time.sleep(60)


def fault_active(name: str) -> bool:
    """Whether a test simulates the condition `name` (e.g. `disk_full`)."""
    return name in _entries()
