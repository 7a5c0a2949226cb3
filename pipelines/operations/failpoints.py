"""Named points where a test can freeze a refresh to kill it there (fault injection).

With `YIYU_FAILPOINT=<name>` set, reaching that point touches `YIYU_FAILPOINT_MARKER` and
waits forever, so a test can SIGKILL the process at a known moment. Unset, it costs nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def failpoint(name: str) -> None:
    if os.environ.get("YIYU_FAILPOINT") != name:
        return
    marker = os.environ.get("YIYU_FAILPOINT_MARKER")
    if marker:
        Path(marker).write_text(name)
    while True:
        time.sleep(60)
