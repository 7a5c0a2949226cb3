"""The `yiyu` console command. Each sub-command imports its machinery lazily (fast --help)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="医育 yiyu: the health-childcare integration warehouse.", no_args_is_help=True
)


@app.command()
def refresh(
    force: Annotated[
        bool, typer.Option(help="run even when nothing changed since the last good refresh")
    ] = False,
) -> None:
    """Materialise every asset through Dagster; exit 1 when an asset or blocking check fails."""
    from pipelines.config import Settings
    from pipelines.ingest.secret import WeakKeyError, link_secret
    from pipelines.operations.refresh import run_refresh

    try:
        key = link_secret()
    except WeakKeyError as weak:  # one line that never shows the key
        typer.echo(str(weak), err=True)
        raise typer.Exit(2) from None
    code = run_refresh(Settings.from_env(), os.environ, key, force=force)
    # Tearing down the imported Dagster and dbt modules is slow, and everything the refresh
    # opened is closed by now, so the process ends here.
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


@app.command()
def prepare() -> None:
    """Prepare the dbt manifest that the Dagster definitions load (run before `dagster dev`)."""
    from pipelines.config import Settings
    from pipelines.marts.dbt import prepare_manifest

    print(prepare_manifest(Settings.from_env()))


@app.command()
def sample(
    children: Annotated[int, typer.Option(help="number of children")],
    seed: Annotated[int, typer.Option(help="random seed (same seed, same files)")],
    out: Annotated[Path, typer.Option(help="output folder (one sub-folder per source)")],
) -> None:
    """Write a synthetic raw delivery of all sources at any scale."""
    from pipelines.sample import write_sample

    write_sample(children=children, seed=seed, out=out)


@app.command()
def report(
    out: Annotated[Path, typer.Option(help="HTML file to write")],
) -> None:
    """Write the evaluators' report (self-contained HTML) from the published marts."""
    from pipelines.report.render import write_report

    typer.echo(write_report(out))


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="folder for the XLSX and CSV files")],
) -> None:
    """Export the scorecard and indicator values (small cells suppressed) as XLSX and CSV."""
    from pipelines.report.exports import write_exports

    for path in write_exports(out):
        typer.echo(path)


@app.command()
def submit(
    period: Annotated[str, typer.Option(help="quarter to freeze, e.g. 2023Q2")],
) -> None:
    """Freeze a quarter's published figures as a new submitted vintage (submissions.duckdb)."""
    from pipelines.report.submissions import submissions_path
    from pipelines.report.submissions import submit as submit_period

    try:
        version = submit_period(period)
    except ValueError as refused:  # a period that is not in the published marts
        typer.echo(f"refused: {refused}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{period} submitted as version {version} in {submissions_path()}")


if __name__ == "__main__":
    app()
