"""The `yiyu` console command. Each sub-command imports its machinery lazily (fast --help).

Each command checks the settings it uses before any work (contract section 1): a bad value
stops it with one line naming the variable, exit code 2, nothing changed. Commands that
write the warehouse folder hold its writer lock (contract section 7).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    help="医育 yiyu: the health-childcare integration warehouse.", no_args_is_help=True
)

BAD_SETTING = 2
REFUSED = 1


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


def _refuse(line: str) -> NoReturn:
    typer.echo(line, err=True)
    raise typer.Exit(REFUSED)


@contextlib.contextmanager
def _refusals(out: Path | None = None) -> Iterator[None]:
    """What a person must fix (no published file, an `out` that cannot be written): one line
    and exit 1, never a traceback."""
    from pipelines.report.exports import ExportFolderError
    from pipelines.report.published import PublishedFileError

    try:
        yield
    except (PublishedFileError, ExportFolderError) as refused:
        _refuse(str(refused))
    except OSError as error:
        if out is None:
            raise
        _refuse(f"--out {out} cannot be written ({error.strerror}): name a path you can write")


def _whole(out: Path, write: Callable[[Path], object]) -> Path:
    """`out` written by `write` into a hidden file beside it, renamed to `out` once complete."""
    partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        write(partial)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def _link_key() -> bytes:
    from pipelines.ingest.secret import WeakKeyError, link_secret

    try:
        return link_secret()
    except WeakKeyError as weak:  # one line that never shows the key
        typer.echo(str(weak), err=True)
        raise typer.Exit(BAD_SETTING) from None


def _check_worklist_public_key(settings) -> None:
    """The key the refresh encrypts the handles to (generated at the default files when both
    are absent): a missing, empty or foreign key file is one line, before any work."""
    from pipelines.ingest.handles import WorklistKeyError, refresh_public_key

    try:
        refresh_public_key(settings)
    except WorklistKeyError as bad:
        typer.echo(str(bad), err=True)
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
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="show Dagster's and dbt's event stream (always in the log file)"
        ),
    ] = False,
) -> None:
    """Materialise every asset through Dagster, printing a line per stage and a summary (the full
    log goes to logs/ beside the warehouse); exit 1 when an asset, a blocking check or the
    publish gate fails, 2 on a bad setting, 3 when another process writes the warehouse."""
    from pipelines.operations.refresh import run_refresh

    settings = _settings(landing=True)
    key = _link_key()
    _check_worklist_public_key(settings)
    code = run_refresh(
        settings,
        os.environ,
        key,
        force=force,
        wait=wait,
        accept_withdrawals=accept_withdrawals,
        verbose=verbose,
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
    if out.is_dir():
        _refuse(f"--out {out} is a folder: name the HTML file to write")
    with _refusals(out):
        typer.echo(
            _whole(
                out, lambda path: write_report(path, settings=settings, timezone=settings.timezone)
            )
        )
        # The report links the data dictionary beside it.
        dictionary = out.with_name(DICTIONARY_FILE)
        typer.echo(
            _whole(
                dictionary,
                lambda path: write_dictionary(settings.warehouse_path, path, report_file=out.name),
            )
        )


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="folder for the XLSX and CSV files")],
) -> None:
    """Export the scorecard and indicator values (small cells suppressed) as XLSX and CSV."""
    from pipelines.report.exports import write_exports

    settings = _settings()
    with _refusals(out):
        for path in write_exports(out, settings=settings, timezone=settings.timezone):
            typer.echo(path)


@app.command()
def submit(
    period: Annotated[str, typer.Option(help="quarter to freeze, e.g. 2023Q2")],
) -> None:
    """Freeze a quarter's published figures as a new submitted vintage (submissions.duckdb)."""
    from pipelines.operations.lock import writer_lock
    from pipelines.report.submissions import check_period
    from pipelines.report.submissions import submit as submit_period

    settings = _settings()

    def waiting(holder: str) -> None:
        typer.echo(f"waiting: the warehouse folder is in use by {holder}", err=True)

    try:
        check_period(period, settings.warehouse_path)  # before the lock makes the folder
        # A refresh swaps the published file: the vintage is of the file it leaves.
        with writer_lock(settings.warehouse_dir, "yiyu submit", wait=True, on_wait=waiting):
            submitted = submit_period(period, settings.warehouse_path)
    except ValueError as refused:  # no published file, a period not in its marts
        _refuse(str(refused))
    typer.echo(submitted.message)


@app.command()
def submissions() -> None:
    """List the submitted vintages and their revisions."""
    from pipelines.report.submissions import list_submissions

    settings = _settings()
    with _refusals():
        listing = list_submissions(
            settings.warehouse_path, settings.small_cell_k, settings.timezone
        )
    typer.echo(listing)


@app.command()
def worklists(
    out: Annotated[Path, typer.Option(help="folder for the XLSX files (created owner-only)")],
    recipient: Annotated[
        str | None, typer.Option(help="only this recipient's file (its facility/institution code)")
    ] = None,
) -> None:
    """Write the latest period's follow-up worklists, one XLSX per recipient (needs the private
    key YIYU_WORKLIST_PRIVATE_KEY); exit 1 when --out or --recipient cannot be used, 2 on a bad
    setting or key, 3 when another process writes the warehouse."""
    from pipelines.worklists.command import run_worklists

    settings = _settings()
    code = run_worklists(
        settings, out, recipient, echo=typer.echo, warn=lambda line: typer.echo(line, err=True)
    )
    raise typer.Exit(code)


if __name__ == "__main__":
    app()
