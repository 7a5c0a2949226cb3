"""Great Expectations in this process: imported once (possibly ahead of time), one context.

Importing GE costs seconds of CPU (pandas, scipy, altair, SQLAlchemy, ...), and the checks
need it only from the first check step on, after the ingestion steps. So the code location
starts the import in a background thread when its definitions load (`preload()`): the
ingestion steps spend most of their time in polars and DuckDB, which release the GIL, and
the import runs meanwhile on the other core. `great_expectations()` waits for that thread
instead of importing a second time. One ephemeral data context serves every validation of
the process (`context()`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from types import ModuleType
from typing import Any

_preload: threading.Thread | None = None
_preload_lock = threading.Lock()


def _quiet() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def _import() -> None:
    # A failure here shows where it matters: great_expectations() imports again and raises.
    with contextlib.suppress(Exception):
        import great_expectations  # noqa: F401


def preload() -> None:
    """Start importing GE in a background thread (once per process; no-op when imported)."""
    global _preload
    with _preload_lock:
        if _preload is not None or "great_expectations" in sys.modules:
            return
        _quiet()
        # Not a daemon: a process that ends early waits for the import rather than being torn
        # down in the middle of a C extension's initialisation.
        _preload = threading.Thread(target=_import, name="import-great-expectations")
        _preload.start()


def great_expectations() -> ModuleType:
    """The `great_expectations` module, waiting for a preload that is still running."""
    if _preload is not None:
        _preload.join()
    _quiet()
    import great_expectations

    return great_expectations


@functools.cache
def context() -> Any:
    """The process's ephemeral GE data context (no files, no progress bars)."""
    gx = great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx
