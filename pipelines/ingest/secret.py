"""The HMAC key for pseudonymous keys: `YIYU_LINK_SECRET`, else a generated local file."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from pipelines.config import REPO_ROOT


def secret_file() -> Path:
    return Path(os.environ.get("YIYU_SECRET_FILE", REPO_ROOT / ".secrets" / "link_secret"))


def link_secret() -> bytes:
    value = os.environ.get("YIYU_LINK_SECRET")
    if value:
        return value.encode("utf-8")
    path = secret_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once never overwrite each other's key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def secret_fingerprint(key: bytes | None = None) -> str:
    """Identifies the key (`link_secret()` unless given) without revealing it."""
    key = link_secret() if key is None else key
    return hmac.new(key, b"yiyu-fingerprint", hashlib.sha256).hexdigest()[:16]
