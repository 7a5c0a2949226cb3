"""The worklist handles kept encrypted (contract section 8): only the private key of the pair
reads them back, they are the clear identifiers the keyed hashes were made of (never a
mother's ID), nothing clear is on disk, a new pair re-encrypts, and the key files are never
weak (contract section 7)."""

from __future__ import annotations

import errno
import json
import re
import stat
import unicodedata
from pathlib import Path

import duckdb
import polars as pl
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from stdnum.cn import ric

from pipelines import config
from pipelines.config import REPO_ROOT, Settings
from pipelines.ingest import handles
from pipelines.ingest.handles import (
    HANDLES_BIN,
    WorklistKeyError,
    decrypt_handles,
    generate_key_pair,
    key_fingerprint,
    load_private_key,
    load_public_key,
    refresh_public_key,
)
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.pseudonymise import keyed_hash
from pipelines.ingest.sources import SOURCES
from tests.processes import published, race, refresh
from tests.test_no_personal_data import _leaks, _rows, personal_values, public_strings

KEY = b"handles-test-secret-not-for-production"
HANDLE_SOURCES = ("births", "health_archives", "health_checks", "enrollments")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _norm(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().upper()


def _day(value: str) -> str | None:
    """A delivered birth date (any of the sample's forms) as YYYYMMDD."""
    parts = re.findall(r"\d+", _norm(value))
    if len(parts) == 1 and len(parts[0]) == 8:
        return parts[0]
    if len(parts) >= 3 and len(parts[0]) == 4:
        return f"{parts[0]}{int(parts[1]):02d}{int(parts[2]):02d}"
    return None


def _births(raw: Path) -> list[dict[str, str]]:
    """Certificate, ID and birth date of every delivered birth row (stdlib/openpyxl/pyarrow)."""
    labels = {
        "birth_cert_no": {"birth_cert_no", "出生医学证明编号"},
        "id_number": {"id_number", "身份证号", "公民身份号码"},
        "birth_date": {"birth_date", "出生日期"},
    }
    found = []
    for path in sorted((raw / "births").rglob("*")):
        rows = _rows(path) if path.is_file() else []
        if not rows:
            continue
        header = [re.sub(r"\s*[(（].*$", "", _norm(h)).lower() for h in rows[0]]
        at = {name: next((i for i, h in enumerate(header) if h in ls), None)
              for name, ls in labels.items()}  # fmt: skip
        for row in rows[1:]:
            found.append({n: _norm(row[i]) if i is not None and i < len(row) else ""
                          for n, i in at.items()})  # fmt: skip
    return found


def _hashes(values: list[str], kind: str, key: bytes) -> list[str]:
    """The keyed hashes ingestion gives these values, made by pipelines.ingest.pseudonymise."""
    frame = pl.DataFrame({"value": values}, schema={"value": pl.String})
    return frame.select(keyed_hash(pl.col("value"), kind, key).alias("key"))["key"].to_list()


@pytest.fixture(scope="module")
def refreshed(sample_refresh):
    settings = Settings.from_env(sample_refresh.env)
    link_key = (sample_refresh.root / "secret").read_text().strip().encode()
    return settings, link_key


@pytest.mark.slow  # a subprocess refresh of the shipped sample
def test_the_handles_decrypt_to_the_delivered_identifiers(refreshed):
    settings, link_key = refreshed
    private = load_private_key(settings.worklist_private_key)
    births = _births(REPO_ROOT / "raw")
    certificates = sorted({b["birth_cert_no"] for b in births if b["birth_cert_no"]})
    expected = dict(zip(_hashes(certificates, "bc", link_key), certificates, strict=True))
    wanted = pl.DataFrame({"handle_kind": "birth_cert_no", "handle_key": list(expected)})

    got = decrypt_handles(settings.cache_dir, private, wanted)

    assert got.columns == ["handle_kind", "handle_key", "handle_value"]
    assert got.height == got.unique().height
    pairs = zip(got["handle_key"], got["handle_value"], strict=True)
    assert all(expected[k] == v for k, v in pairs)
    con = duckdb.connect(str(settings.work_db), read_only=True)
    loaded = {k for (k,) in con.execute("SELECT birth_cert_key FROM ingested.births").fetchall()}
    con.close()
    assert len(loaded) > 2000 and loaded <= set(got["handle_key"])

    # A child's own ID (valid, its birth date that of the row) is a handle; a mother's never.
    own, mothers = set(), set()
    for b in births:
        number, born = b["id_number"], _day(b["birth_date"])
        if len(number) == 18 and ric.is_valid(number) and born:
            (own if number[6:14] == born else mothers).add(number)
    ids = decrypt_handles(settings.cache_dir, private).filter(handle_kind="id_number")
    values = set(ids["handle_value"])
    assert mothers and not mothers & values
    assert len(own) > 1000 and own <= values
    own_keys = dict(zip(_hashes(sorted(own), "id", link_key), sorted(own), strict=True))
    decrypted = dict(zip(ids["handle_key"], ids["handle_value"], strict=True))
    assert all(decrypted[k] == v for k, v in own_keys.items())


@pytest.mark.slow
def test_no_clear_handle_is_on_disk_but_the_scan_would_see_one(refreshed):
    """The personal-data scan (tests/test_no_personal_data.py) reads every file of the
    warehouse folder, the encrypted handles included: here, that it finds the decrypted
    handles and nothing in the files that hold them encrypted."""
    settings, _ = refreshed
    raw = REPO_ROOT / "raw"
    secrets, public = personal_values(raw), public_strings(raw)
    sealed = sorted(settings.cache_dir.rglob(HANDLES_BIN))
    assert {p.parent.parent.name for p in sealed} == set(HANDLE_SOURCES)
    for path in sealed:
        for name in (HANDLES_BIN, "handles.json"):
            text = (path.parent / name).read_bytes().decode("utf-8", errors="ignore")
            assert not _leaks([text], secrets, public), f"personal data in {path.parent / name}"
    clear = decrypt_handles(settings.cache_dir, load_private_key(settings.worklist_private_key))
    kinds = set(clear["handle_kind"])
    assert kinds == {"birth_cert_no", "id_number", "archive_no", "enrollment_no"}
    assert _leaks(clear["handle_value"].to_list(), secrets, public)


def _pair(folder: Path) -> tuple[Path, Path]:
    public, private = folder / "public.pem", folder / "private.pem"
    generate_key_pair(public, private)
    return public, private


def _ingest_births(raw: Path, cache: Path, public: Path) -> list[bool]:
    con = duckdb.connect()
    result = ingest_source(
        SOURCES["births"],
        raw / "births",
        con,
        cache_dir=cache,
        key=KEY,
        worklist_key=load_public_key(public),
    )
    return result.audit["parsed_this_run"].to_list()


def test_a_new_key_pair_re_encrypts_and_the_old_one_reads_nothing(tmp_path, sample_raw):
    cache = tmp_path / "cache"
    public_a, private_a = _pair(tmp_path / "a")
    public_b, private_b = _pair(tmp_path / "b")

    assert all(_ingest_births(sample_raw, cache, public_a))
    assert not any(_ingest_births(sample_raw, cache, public_a))  # same pair: from the cache
    first = decrypt_handles(cache, load_private_key(private_a))
    assert first.height > 0

    assert all(_ingest_births(sample_raw, cache, public_b))  # a new pair: parsed again
    with pytest.raises(WorklistKeyError, match="does not match the public key") as refused:
        decrypt_handles(cache, load_private_key(private_a))
    assert "\n" not in str(refused.value)
    again = decrypt_handles(cache, load_private_key(private_b))
    assert again.sort(pl.all()).equals(first.sort(pl.all()))
    layouts = [json.loads(p.read_text()) for p in cache.rglob("handles.json")]
    fingerprint = key_fingerprint(load_public_key(public_b))
    assert layouts and {x["public_key_fingerprint"] for x in layouts} == {fingerprint}
    # One data key per entry, each wrapped to the pair: no two entries share one.
    assert len({x["wrapped_key"] for x in layouts}) == len(layouts)


def test_the_default_pair_is_generated_once_whole_and_owner_only(tmp_path, monkeypatch):
    folder = tmp_path / "secrets"
    monkeypatch.setattr(config, "DEFAULT_WORKLIST_PUBLIC_KEY", folder / "worklist_public.pem")
    monkeypatch.setattr(config, "DEFAULT_WORKLIST_PRIVATE_KEY", folder / "worklist_private.pem")
    settings = Settings.from_env({})
    assert settings.worklist_keys_by_default

    public = refresh_public_key(settings)

    files = sorted(p.name for p in folder.iterdir())
    assert files == ["worklist_private.pem", "worklist_public.pem"]  # no temporary file left
    assert _mode(folder) == 0o700
    assert all(_mode(folder / name) == 0o600 for name in files)
    private = load_private_key(settings.worklist_private_key)
    assert key_fingerprint(private.public_key()) == key_fingerprint(public)
    assert private.key_size == 3072
    before = (folder / "worklist_public.pem").read_bytes()
    assert key_fingerprint(refresh_public_key(settings)) == key_fingerprint(public)
    assert (folder / "worklist_public.pem").read_bytes() == before


def _defaults_in(folder: Path) -> Settings:
    config.DEFAULT_WORKLIST_PUBLIC_KEY = folder / "worklist_public.pem"
    config.DEFAULT_WORKLIST_PRIVATE_KEY = folder / "worklist_private.pem"
    return Settings.from_env({})


def _first_run_fingerprint(folder: str) -> str:
    return key_fingerprint(refresh_public_key(_defaults_in(Path(folder))))


def test_two_first_runs_at_once_share_one_pair(tmp_path):
    got = set(race(_first_run_fingerprint, (str(tmp_path / "s"),), runs=3))
    private = load_private_key(tmp_path / "s" / "worklist_private.pem")
    assert got == {key_fingerprint(private.public_key())}


def test_a_pair_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    folder = tmp_path / "secrets"
    monkeypatch.setattr(config, "DEFAULT_WORKLIST_PUBLIC_KEY", folder / "worklist_public.pem")
    monkeypatch.setattr(config, "DEFAULT_WORKLIST_PRIVATE_KEY", folder / "worklist_private.pem")
    written = handles.write_owner_only

    def disk_full_for_the_public_key(path: Path, data: bytes) -> bool:
        if path.name == "worklist_public.pem":
            raise OSError(errno.ENOSPC, "No space left on device")
        return written(path, data)

    with monkeypatch.context() as patched:
        patched.setattr(handles, "write_owner_only", disk_full_for_the_public_key)
        with pytest.raises(WorklistKeyError) as refused:
            refresh_public_key(Settings.from_env({}))
    assert str(refused.value) == (
        f"worklist key file {folder / 'worklist_public.pem'} cannot be written"
        " (No space left on device)"
    )
    assert list(folder.iterdir()) == []
    refresh_public_key(Settings.from_env({}))  # the next run generates the pair whole
    assert sorted(p.name for p in folder.iterdir()) == [
        "worklist_private.pem",
        "worklist_public.pem",
    ]


def test_key_files_that_are_set_are_never_generated(tmp_path):
    settings = Settings.from_env(
        {
            "YIYU_WORKLIST_PUBLIC_KEY": str(tmp_path / "keys" / "public.pem"),
            "YIYU_WORKLIST_PRIVATE_KEY": str(tmp_path / "keys" / "private.pem"),
        }
    )
    assert not settings.worklist_keys_by_default
    with pytest.raises(WorklistKeyError) as refused:
        refresh_public_key(settings)
    assert str(refused.value) == (
        f"worklist public key file {tmp_path / 'keys' / 'public.pem'} does not exist"
    )
    assert not (tmp_path / "keys").exists()


def _small_public_key() -> bytes:
    small = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return small.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "is empty"),
        (b" \n", "is empty"),
        (b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n", "is not a PEM"),
        (None, "holds a 2048-bit key; at least 3072 bits are required"),
    ],
    ids=["empty", "blank", "garbage", "short"],
)
def test_a_weak_public_key_file_stops_with_one_line_naming_it(tmp_path, content, said):
    path = tmp_path / "public.pem"
    path.write_bytes(_small_public_key() if content is None else content)
    settings = Settings.from_env(
        {"YIYU_WORKLIST_PUBLIC_KEY": str(path), "YIYU_WORKLIST_PRIVATE_KEY": str(tmp_path / "x")}
    )
    with pytest.raises(WorklistKeyError) as refused:
        refresh_public_key(settings)
    message = str(refused.value)
    assert message.startswith(f"worklist public key file {path} {said}")
    assert "\n" not in message


def test_the_private_key_file_is_named_when_missing_or_not_a_key(tmp_path):
    public, private = _pair(tmp_path)
    with pytest.raises(WorklistKeyError, match=f"private key file {tmp_path / 'no.pem'} does not"):
        load_private_key(tmp_path / "no.pem")
    with pytest.raises(WorklistKeyError, match="is not an unencrypted PEM private key"):
        load_private_key(public)  # the public half given for the private one
    assert isinstance(load_private_key(private), rsa.RSAPrivateKey)


@pytest.mark.slow  # a subprocess refresh
def test_the_refresh_needs_only_the_public_key(tmp_path, sample_raw):
    """The private key file is missing: the refresh publishes, and the handles it encrypted
    open with the private key kept elsewhere."""
    public, private = _pair(tmp_path / "custody")
    refresh(
        tmp_path,
        sample_raw,
        YIYU_WORKLIST_PUBLIC_KEY=str(public),
        YIYU_WORKLIST_PRIVATE_KEY=str(tmp_path / "absent" / "private.pem"),
    )
    assert published(tmp_path).exists()
    assert not (tmp_path / "absent").exists()
    handles = decrypt_handles(tmp_path / "warehouse" / "cache", load_private_key(private))
    assert set(handles["handle_kind"]) == {
        "birth_cert_no",
        "id_number",
        "archive_no",
        "enrollment_no",
    }
