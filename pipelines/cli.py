"""The `yiyu` console command. Each sub-command imports its machinery lazily (fast --help)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="医育 yiyu: the health-childcare integration warehouse.", no_args_is_help=True
)


@app.command()
def refresh() -> None:
    """Materialise every asset through Dagster; exit 1 when an asset or blocking check fails."""
    from pipelines.lib.refresh import run_refresh

    raise typer.Exit(run_refresh())


@app.command()
def sample(
    children: Annotated[int, typer.Option(help="number of children")],
    seed: Annotated[int, typer.Option(help="random seed (same seed, same files)")],
    out: Annotated[Path, typer.Option(help="output folder (one sub-folder per source)")],
) -> None:
    """Write a synthetic raw delivery of all sources at any scale."""
    from pipelines.sample import write_sample

    write_sample(children=children, seed=seed, out=out)


if __name__ == "__main__":
    app()
