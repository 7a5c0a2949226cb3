"""Keyed hashes (HMAC-SHA-256, 128 bits kept) that replace identifiers before anything is written.

Each identifier kind has its own domain prefix, so equal strings of different kinds (a
certificate number equal to an archive number) never produce equal keys.
"""

from __future__ import annotations

import polars as pl
import polars_hash  # noqa: F401  (registers the `chash` namespace on expressions)

from pipelines.ingest.secret import require_key

KEY_HEX_CHARS = 32  # 128 bits


def keyed_hash(expr: pl.Expr, kind: str, key: bytes) -> pl.Expr:
    """Hex HMAC of `kind:value` under `key` (`secret.link_secret()`); null stays null."""
    text = require_key(key).decode("utf-8")
    return (pl.lit(f"{kind}:") + expr).chash.hmac_sha256(key=text).str.slice(0, KEY_HEX_CHARS)
