"""Keys are never weak (contract section 7): a generated key file is written whole or not at
all, owner-only; an empty, short or unreadable key file, or a short YIYU_LINK_SECRET, stops
with one line naming the file or the variable and never the key; no key is derived from an
empty value."""

from __future__ import annotations

import errno
import os
import stat
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.ingest import secret
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.pseudonymise import keyed_hash
from pipelines.ingest.secret import MIN_KEY_CHARS, WeakKeyError, link_secret, load_link_key
from pipelines.ingest.sources import SOURCES
from tests.processes import race


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_generated_key_file_is_whole_and_owner_only(tmp_path):
    key_file = tmp_path / "new" / "keys" / "link_secret"
    key = load_link_key(None, key_file)
    assert len(key) == 64 and int(key, 16) >= 0  # 256 random bits, as hex
    assert key_file.read_bytes() == key
    assert (_mode(key_file), _mode(key_file.parent)) == (0o600, 0o700)
    assert load_link_key(None, key_file) == key  # reused, not regenerated
    assert load_link_key("", key_file) == key  # an empty variable is an unset one
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["link_secret"]  # no leftovers


def test_two_first_runs_at_once_share_one_key(tmp_path):
    key_file = tmp_path / "secrets" / "link_secret"
    got = set(race(load_link_key, (None, key_file), runs=4, timeout=60))
    assert got == {key_file.read_bytes()}
    assert len(key_file.read_bytes()) == 64


def test_a_write_that_fails_leaves_no_key_file(tmp_path, monkeypatch):
    """A full disk: nothing half-written is left to be taken for a key next time."""
    key_file = tmp_path / "secrets" / "link_secret"

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(secret.os, "fsync", disk_full)
        with pytest.raises(WeakKeyError, match=f"key file {key_file} cannot be written"):
            load_link_key(None, key_file)
    assert list(key_file.parent.iterdir()) == []
    assert len(load_link_key(None, key_file)) == 64  # the next run generates it whole


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "is empty"),
        (b"  \n", "is empty"),
        (b"k" * 31, "holds 31 characters"),
        (b"\xff\xfe" + b"x" * 40, "is not UTF-8 text"),
    ],
    ids=["empty", "blank", "short", "binary"],
)
def test_a_weak_key_file_stops_with_one_line_naming_it(tmp_path, content, said):
    key_file = tmp_path / "link_secret"
    key_file.write_bytes(content)
    with pytest.raises(WeakKeyError) as refused:
        load_link_key(None, key_file)
    message = str(refused.value)
    assert message.startswith(f"key file {key_file} {said}")
    assert "\n" not in message
    if content.strip():
        assert content.decode("utf-8", errors="ignore").strip()[:8] not in message
    assert key_file.read_bytes() == content  # never replaced: data was hashed with it


def test_an_unreadable_key_file_stops_naming_it(tmp_path):
    key_file = tmp_path / "link_secret"
    key_file.mkdir()  # a folder where the file should be: reading it fails
    with pytest.raises(WeakKeyError, match=f"key file {key_file} cannot be read"):
        load_link_key(None, key_file)


def test_a_short_secret_is_refused_without_echoing_it():
    with pytest.raises(WeakKeyError) as refused:
        load_link_key("abc", Path("/nonexistent/unused"))
    message = str(refused.value)
    assert message.startswith("YIYU_LINK_SECRET has 3 characters; at least 32")
    assert "abc" not in message
    assert len(load_link_key("s" * MIN_KEY_CHARS, Path("/nonexistent/unused"))) == 32


def test_the_entry_point_reads_the_variables_it_is_given(tmp_path):
    environ = {"YIYU_LINK_SECRET": "x" * 40, "YIYU_SECRET_FILE": str(tmp_path / "unused")}
    assert link_secret(environ) == b"x" * 40
    environ = {"YIYU_SECRET_FILE": str(tmp_path / "file")}
    assert link_secret(environ) == (tmp_path / "file").read_bytes()
    with pytest.raises(WeakKeyError, match="YIYU_LINK_SECRET has 5 characters"):
        link_secret({"YIYU_LINK_SECRET": "short"})


def test_no_key_is_derived_from_an_empty_value(tmp_path):
    with pytest.raises(WeakKeyError, match="empty"):
        pl.select(keyed_hash(pl.lit("N1"), "bc", b""))
    raw = tmp_path / "raw" / "births"
    raw.mkdir(parents=True)
    (raw / "b.csv").write_text("出生医学证明编号,姓名,性别,出生日期\nN1,张三,男,2023-01-05\n")
    with pytest.raises(WeakKeyError, match="empty"):
        ingest_source(
            SOURCES["births"],
            raw,
            duckdb.connect(),
            cache_dir=tmp_path / "cache",
            key=b"",
            today=date(2024, 6, 30),
        )
    assert not (tmp_path / "cache").exists()


def test_a_key_file_is_never_followed_to_a_new_file_through_a_dangling_link(tmp_path):
    """A dangling link where the key file should be is not written through: it stops."""
    key_file = tmp_path / "link_secret"
    os.symlink(tmp_path / "missing", key_file)
    with pytest.raises(WeakKeyError, match="cannot be read"):
        load_link_key(None, key_file)
    assert not (tmp_path / "missing").exists()
