"""The HMAC key for pseudonymous keys: `YIYU_LINK_SECRET`, else a generated local key file.

A key is never weak (contract section 7): a generated key file is written whole or not at
all and is owner-only; an empty, short or unreadable key, or a short secret, stops the command
with a one-line message naming the file or the variable, never the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pipelines.config import REPO_ROOT

MIN_KEY_CHARS = 32


class WeakKeyError(ValueError):
    """The link key is missing, empty, short or unreadable; the message is one line."""


def secret_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("YIYU_SECRET_FILE") or REPO_ROOT / ".secrets" / "link_secret")


def link_secret(environ: Mapping[str, str] | None = None) -> bytes:
    """The key as the environment `environ` (default: this process's, read now) gives it: for
    the entry points, which pass it on."""
    env = os.environ if environ is None else environ
    return load_link_key(env.get("YIYU_LINK_SECRET"), secret_file(env))


def load_link_key(secret: str | None, key_file: Path) -> bytes:
    """`secret` (YIYU_LINK_SECRET; empty is unset) when given, else the key file, generated
    when absent. Raises WeakKeyError for a key shorter than MIN_KEY_CHARS characters."""
    if secret:
        if len(secret) < MIN_KEY_CHARS:
            raise WeakKeyError(
                f"YIYU_LINK_SECRET has {len(secret)} characters; at least {MIN_KEY_CHARS}"
                " are required (or leave it unset to use the generated key file)"
            )
        return secret.encode("utf-8")
    if not key_file.exists() and not key_file.is_symlink():
        _generate(key_file)
    return _read_key_file(key_file)


def _read_key_file(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
        chars = len(key.decode("utf-8"))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise WeakKeyError(f"key file {path} cannot be read ({reason})") from exc
    except UnicodeDecodeError as exc:
        raise WeakKeyError(f"key file {path} is not UTF-8 text") from exc
    if chars < MIN_KEY_CHARS:
        held = "is empty" if chars == 0 else f"holds {chars} characters"
        raise WeakKeyError(
            f"key file {path} {held}; a key needs at least {MIN_KEY_CHARS}"
            " (restore the file, or remove it to generate a new key)"
        )
    return key


def _generate(path: Path) -> None:
    """A new random key at `path` (another run's key is kept when it linked first)."""
    try:
        write_owner_only(path, secrets.token_hex(MIN_KEY_CHARS).encode())
    except OSError as exc:  # a full disk; a file system without hard links cannot promise "whole"
        raise _unwritable(path, exc) from exc


def write_owner_only(path: Path, data: bytes) -> bool:
    """`data` at `path`, whole or not at all: written to a temporary file in the same folder,
    synced, then linked to its name, which fails if another run linked first (False: its file
    is kept). The folder is created owner-only; the file is owner-only. Raises OSError."""
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
        _sync_folder(folder)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def _unwritable(path: Path, exc: OSError) -> WeakKeyError:
    reason = exc.strerror or type(exc).__name__
    return WeakKeyError(
        f"key file {path} cannot be written ({reason}); free space or set YIYU_LINK_SECRET"
    )


def _sync_folder(folder: Path) -> None:
    """The new name made durable, so a crash cannot lose the key the data was hashed with."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def require_key(key: bytes) -> bytes:
    """`key`, refused when empty: no key is ever derived from an empty value."""
    if not key:
        raise WeakKeyError("the link key is empty: no pseudonymous key is made with it")
    return key


def secret_fingerprint(key: bytes) -> str:
    """Identifies the key without revealing it."""
    return hmac.new(key, b"yiyu-fingerprint", hashlib.sha256).hexdigest()[:16]
