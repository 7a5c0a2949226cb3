"""The output folder and its files, owner-only (contract section 8): the folder 0700, each file
0600 from the moment it exists, written whole by the key files' writer."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from pipelines.ingest.secret import write_owner_only

FOLDER_MODE = 0o700


class OutputFolderError(ValueError):
    """The output folder cannot hold worklists; the message is one line naming it."""


def check_folder(out: Path) -> None:
    """`out` is absent (it will be created) or a folder only its owner can open."""
    try:
        status = out.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(status.st_mode):
        raise OutputFolderError(f"--out {out} exists and is not a folder: name a folder")
    if status.st_uid != os.getuid() or stat.S_IMODE(status.st_mode) & 0o077:
        raise OutputFolderError(
            f"--out {out} can be opened by other accounts: name a new folder, or run"
            f" `chmod 700 {out}` if it is yours"
        )


@contextlib.contextmanager
def writable(out: Path) -> Iterator[None]:
    """An OSError while writing `out` as the one line OutputFolderError."""
    try:
        yield
    except OSError as error:
        raise OutputFolderError(
            f"--out {out} cannot be written ({error.strerror}): name a folder you can write"
        ) from None


def make_folder(out: Path) -> None:
    """`out` as an owner-only folder (its parents as the umask makes them)."""
    with writable(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            out.mkdir(mode=FOLDER_MODE)
        os.chmod(out, FOLDER_MODE)  # the umask may have narrowed it, never widened
    check_folder(out)


def replace_owner_only(path: Path, data: bytes) -> None:
    """`data` as `path` (a file of an earlier export replaced), whole, owner-only."""
    with writable(path.parent):
        path.unlink(missing_ok=True)  # the writer lock is held: no one else writes here
        write_owner_only(path, data)
