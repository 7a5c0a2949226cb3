"""Changes are seen by content (contract section 7), by the CLI's no-op check and the raw-file
sensor alike: a stored hash is reused only while size, mtime, ctime and inode are unchanged;
editors' and copies' temporary files are ignored; a file still landing waits a tick; the
sensor's first tick starts nothing when the landing folder is what the last good refresh
saw."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from pipelines.config import Settings
from pipelines.operations.fingerprint import HASH_CACHE, look_at_raw, remember_refresh
from tests.landing import land, tick
from tests.processes import copy_tree, published, query, refresh


def _edit_keeping_size_and_mtime(path: Path, text: str) -> None:
    """What a careless copy does: other bytes, same size, the old modification time."""
    stat = path.stat()
    assert len(text.encode()) == stat.st_size
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def test_an_edit_keeping_size_and_mtime_is_seen_by_the_sensor(yiyu_env):
    births = land(yiyu_env / "raw" / "births" / "a.csv", "child,1\n")
    _, cursor = tick(None)
    again, _ = tick(cursor)
    assert isinstance(again, dg.SkipReason)
    _edit_keeping_size_and_mtime(births, "child,2\n")
    request, _ = tick(cursor)
    assert isinstance(request, dg.RunRequest)
    assert request.tags["yiyu/sources"] == "births"


def test_a_hash_is_reused_only_while_the_stat_is_unchanged(tmp_path):
    raw = tmp_path / "raw"
    path = land(raw / "staff" / "s.csv", "a,b\n1,2\n")
    cache = tmp_path / HASH_CACHE
    first = look_at_raw(raw, cache, save=True).content
    # A cached hash that no longer matches the bytes would show if it were reused.
    _edit_keeping_size_and_mtime(path, "a,b\n3,4\n")
    assert look_at_raw(raw, cache, save=True).content != first
    unchanged = look_at_raw(raw, cache).content
    assert unchanged == look_at_raw(raw).content  # from the cache: the same as read afresh


def test_temporary_and_office_lock_files_are_ignored(yiyu_env):
    raw = yiyu_env / "raw"
    land(raw / "births" / "a.csv", "x\n")
    _, cursor = tick(None)
    for name in ("~$a.xlsx", "b.csv.part", "c.csv.tmp"):
        land(raw / "births" / name, "partial")
    skipped, _ = tick(cursor)
    assert isinstance(skipped, dg.SkipReason)


def test_a_file_still_landing_waits_for_the_nexttick(yiyu_env):
    raw = yiyu_env / "raw"
    land(raw / "births" / "a.csv", "x\n")
    _, cursor = tick(None)
    growing = raw / "births" / "b.csv"
    growing.write_text("half of it")  # modified just now: may still be written
    waiting, cursor_after = tick(cursor)
    assert isinstance(waiting, dg.SkipReason)
    assert "still being written (first: births/b.csv)" in waiting.skip_message
    assert cursor_after == cursor  # nothing taken as seen
    land(growing, "all of it now")
    request, _ = tick(cursor)
    assert isinstance(request, dg.RunRequest)


def test_the_first_tick_starts_nothing_when_the_landing_folder_is_the_last_good_refresh(
    yiyu_env,
):
    raw = yiyu_env / "raw"
    land(raw / "births" / "a.csv", "x\n")
    settings = Settings.from_env()
    remember_refresh(settings, "inputs", "run-1", look_at_raw(raw).content)
    first, cursor = tick(None)
    assert isinstance(first, dg.SkipReason)
    land(raw / "staff" / "s.csv", "y\n")
    request, _ = tick(cursor)
    assert request.tags["yiyu/sources"] == "staff"


@pytest.mark.slow
def test_the_refresh_sees_an_edit_keeping_size_and_mtime(tmp_path, base_refresh):
    root = copy_tree(base_refresh, tmp_path / "case")
    raw = root / "raw"
    refresh(root, raw)  # in this folder now: the next identical refresh would do nothing
    assert "nothing new" in refresh(root, raw).stderr
    file, sha = query(
        published(root),
        "SELECT file, content_sha256 FROM audit.file_audit WHERE source = 'institutions'"
        " AND file LIKE '%.csv' ORDER BY file LIMIT 1",
    )[0]
    path = raw / "institutions" / file
    text = path.read_text(encoding="utf-8")
    # One register row's slots, the same number of characters: 120 -> 121 or the like.
    edited = text.replace(",120,", ",121,", 1) if ",120," in text else None
    if edited is None:
        last = text.rstrip("\n")[-1]
        edited = (
            text.rstrip("\n")[:-1]
            + ("1" if last != "1" else "2")
            + "\n" * (len(text) - len(text.rstrip("\n")))
        )
    _edit_keeping_size_and_mtime(path, edited)

    seen = refresh(root, raw)
    assert "nothing new" not in seen.stderr
    now = query(
        published(root),
        "SELECT content_sha256 FROM audit.file_audit WHERE source = 'institutions' AND file = ?",
        [file],
    )
    assert now != [(sha,)]
