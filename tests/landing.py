"""Test helpers for the landing folder: a file that landed a while ago, one tick of the raw-file
sensor with Dagster's testing context."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from pipelines.defs.operations.automation import raw_files_sensor
from pipelines.resources import SETTINGS


def land(path: Path, text: str = "x", minutes_ago: float = 1) -> Path:
    """`path` written with `text`, modified `minutes_ago` (a file modified just now may still be
    landing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    landed = time.time() - minutes_ago * 60
    os.utime(path, (landed, landed))
    return path


def tick(cursor: str | None):
    """One evaluation of the raw-file sensor from `cursor`: its result and its new cursor."""
    with dg.build_sensor_context(
        cursor=cursor,
        repository_def=defs.get_repository_def(),
        instance=dg.DagsterInstance.ephemeral(),
        resources={"settings": SETTINGS},
    ) as context:
        return raw_files_sensor(context), context.cursor
