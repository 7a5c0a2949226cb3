"""The `yiyu` console command. Each sub-command imports its machinery lazily (fast --help).

Each command checks the settings it uses before any work (contract section 1): a bad value
stops it with one line naming the variable, exit code 2, nothing changed. Commands that
write the warehouse folder hold its writer lock (contract section 7).
"""

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

BAD_SETTING = 2


def _settings(landing: bool = False):
    """The settings of this process's environment, or exit 2 with the one line that says
    which is wrong (never a traceback)."""
    from pipelines.config import SettingError, Settings, check_landing_folder

    try:
        settings = Settings.from_env()
        if landing:
            check_landing_folder(settings.raw_dir)
    except SettingError as bad:
        typer.echo(str(bad), err=True)
        raise typer.Exit(BAD_SETTING) from None
    return settings


def _link_key() -> bytes:
    from pipelines.ingest.secret import WeakKeyError, link_secret

    try:
        return link_secret()
    except WeakKeyError as weak:  # one line that never shows the key
        typer.echo(str(weak), err=True)
        raise typer.Exit(BAD_SETTING) from None


@app.command()
def refresh(
    force: Annotated[
        bool, typer.Option(help="run even when nothing changed since the last good refresh")
    ] = False,
    wait: Annotated[
        bool, typer.Option(help="wait for another writer of the warehouse instead of exit 3")
    ] = False,
    accept_withdrawals: Annotated[
        bool,
        typer.Option(
            help="publish even when a source lost every file or more than 20% of its rows"
        ),
    ] = False,
) -> None:
    """Materialise every asset through Dagster; exit 1 when an asset, a blocking check or the
    publish gate fails, 2 on a bad setting, 3 when another process writes the warehouse."""
    from pipelines.operations.refresh import run_refresh

    settings = _settings(landing=True)
    key = _link_key()
    code = run_refresh(
        settings, os.environ, key, force=force, wait=wait, accept_withdrawals=accept_withdrawals
    )
    # Tearing down the imported Dagster and dbt modules is slow, and everything the refresh
    # opened is closed by now, so the process ends here.
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


@app.command()
def prepare() -> None:
    """Prepare the dbt manifest that the Dagster definitions load (run before `dagster dev`)."""
    from pipelines.marts.dbt import prepare_manifest

    print(prepare_manifest(_settings()))


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
    from pipelines.report.dictionary import DICTIONARY_FILE, write_dictionary
    from pipelines.report.render import write_report

    settings = _settings()
    typer.echo(write_report(out, settings=settings, timezone=settings.timezone))
    # The report links the data dictionary beside it.
    typer.echo(
        write_dictionary(
            settings.warehouse_path, out.with_name(DICTIONARY_FILE), report_file=out.name
        )
    )


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="folder for the XLSX and CSV files")],
) -> None:
    """Export the scorecard and indicator values (small cells suppressed) as XLSX and CSV."""
    from pipelines.report.exports import write_exports

    settings = _settings()
    for path in write_exports(out, settings=settings, timezone=settings.timezone):
        typer.echo(path)


@app.command()
def submit(
    period: Annotated[str, typer.Option(help="quarter to freeze, e.g. 2023Q2")],
) -> None:
    """Freeze a quarter's published figures as a new submitted vintage (submissions.duckdb)."""
    from pipelines.operations.lock import writer_lock
    from pipelines.report.submissions import submit as submit_period

    settings = _settings()

    def waiting(holder: str) -> None:
        typer.echo(f"waiting: the warehouse folder is in use by {holder}", err=True)

    try:
        # A refresh swaps the published file: the vintage is of the file it leaves.
        with writer_lock(settings.warehouse_dir, "yiyu submit", wait=True, on_wait=waiting):
            submitted = submit_period(period, settings.warehouse_path)
    except ValueError as refused:  # a period not in the published marts, a file without marts
        typer.echo(f"refused: {refused}", err=True)
        raise typer.Exit(1) from None
    typer.echo(submitted.message)


@app.command()
def submissions() -> None:
    """List the submitted vintages and their revisions."""
    from pipelines.report.submissions import list_submissions

    settings = _settings()
    typer.echo(list_submissions(settings.warehouse_path, settings.small_cell_k, settings.timezone))


if __name__ == "__main__":
    app()
