"""Which file each row goes to, and which rows a later file re-delivers.

Natural keys repeat only through these functions, so the manifest knows every superseded
row: a row is superseded when the same record appears in a lexically later file.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def by_events(
    frame: pl.DataFrame, events: tuple[str, ...], state: dict[str, str], ends: list[int]
) -> pl.DataFrame:
    """One row per record and delivery in which something happened to it.

    `ends` are the last days covered by each delivery (a snapshot, then deltas);
    a `state` column is printed only once its governing date has passed in that delivery.
    Adds `_delivery`, `_superseded` (a later delivery repeats the record) and
    `_redelivered` (an earlier one had it).
    """
    f = frame.with_row_index("_rid")
    days = pl.concat(
        [f.select("_rid", pl.col(c).cast(pl.Int32).alias("_d")) for c in events]
    ).drop_nulls()
    delivery = np.searchsorted(np.array(ends), days["_d"].to_numpy(), side="left")
    days = days.with_columns(pl.Series("_delivery", delivery)).filter(
        pl.col("_delivery") < len(ends)
    )
    slots = days.select("_rid", "_delivery").unique().sort("_rid", "_delivery")
    slots = slots.with_columns(
        (pl.col("_delivery") < pl.col("_delivery").max().over("_rid")).alias("_superseded"),
        (pl.col("_delivery") > pl.col("_delivery").min().over("_rid")).alias("_redelivered"),
        pl.col("_delivery").replace_strict(dict(enumerate(ends))).alias("_end"),
    )
    out = slots.join(f, on="_rid", how="left", maintain_order="left")
    shown = [
        pl.when(pl.col(gate).cast(pl.Int32) <= pl.col("_end")).then(pl.col(col)).alias(col)
        for col, gate in state.items()
    ]
    return out.with_columns(shown).drop("_rid", "_end")


def redeliver_later(
    frame: pl.DataFrame, rng, share: float, eligible: pl.Series, correct
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Picks `share` of eligible rows for re-delivery in the next file.

    Returns (the frame with those rows marked superseded, the corrected copies marked
    re-delivered); `correct` changes the copies (still valid rows).
    """
    pick = eligible.to_numpy() & (rng.random(frame.height) < share)
    marked = frame.with_columns(pl.Series("_superseded", pick) | pl.col("_superseded"))
    copies = correct(frame.filter(pl.Series(pick)), rng).with_columns(
        pl.lit(False).alias("_superseded"), pl.lit(True).alias("_redelivered")
    )
    return marked, copies
