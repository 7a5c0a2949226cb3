"""The code location: every definition under `pipelines/defs/`."""

from pathlib import Path

import dagster as dg

import pipelines.defs

defs = dg.load_from_defs_folder(path_within_project=Path(pipelines.defs.__file__).parent)
