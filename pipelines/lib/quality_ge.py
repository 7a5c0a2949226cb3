"""Great Expectations in this process: imported once, one data context for every validation.

Importing GE costs seconds of CPU (pandas, scipy, altair, SQLAlchemy, ...): it happens at
the first check step that needs it, and every later step and run of the process reuses the
module and the ephemeral context (`context()`). Importing it ahead of time in a background
thread while the ingestion steps run was measured and dropped: on the shared two-core
machine the ingestion steps slowed by about as much as the first check step gained.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType
from typing import Any


def great_expectations() -> ModuleType:
    """The `great_expectations` module, without usage statistics."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
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
