"""The clear identifiers a worklist handle can come from, kept encrypted (contract section 8).

Each cache entry of a child-level source holds `handles.bin`: its (handle_kind, handle_key,
handle_value) rows, serialised in memory and encrypted with AES-256-GCM under a data key of
its own (one random nonce per chunk), and `handles.json`: that data key wrapped with
RSA-OAEP (SHA-256) to the worklist public key, the key's fingerprint and the chunks' layout.
The refresh holds only the public key; `decrypt_handles` needs the private key.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

import polars as pl
from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipelines.config import Settings
from pipelines.ingest.secret import WeakKeyError, write_owner_only

HANDLES_BIN = "handles.bin"
HANDLES_JSON = "handles.json"
KEY_BITS = 3072
HANDLE_SCHEMA = {"handle_kind": pl.String, "handle_key": pl.String, "handle_value": pl.String}
# Source -> (handle kind, its keyed-hash column, the clear column parse.py hashed into it).
HANDLE_KINDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "births": (
        ("birth_cert_no", "birth_cert_key", "birth_cert_no"),
        ("id_number", "id_key", "_id18"),
    ),
    "health_archives": (
        ("birth_cert_no", "birth_cert_key", "birth_cert_no"),
        ("id_number", "id_key", "_id18"),
        ("archive_no", "archive_key", "archive_no"),
    ),
    "health_checks": (
        ("birth_cert_no", "birth_cert_key", "birth_cert_no"),
        ("id_number", "id_key", "_id18"),
    ),
    "enrollments": (
        ("birth_cert_no", "birth_cert_key", "birth_cert_no"),
        ("id_number", "id_key", "_id18"),
        ("enrollment_no", "record_key", "enrollment_no"),
    ),
}
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
# A concurrent first run that generated the pair: how long to wait for its public key file.
_PAIR_WAIT_SECONDS = 10


class WorklistKeyError(WeakKeyError):
    """A worklist key file is missing, unreadable, not a key, weak, or not the pair's other
    half; the message is one line naming the file, never a key."""


def handle_columns(source: str) -> list[str]:
    """The clear columns `handle_table` reads (none for a source without handles)."""
    return sorted({clear for _, _, clear in HANDLE_KINDS.get(source, ())})


def handle_table(source: str, rows: pl.DataFrame) -> pl.DataFrame:
    """The handles of parsed rows that carry the keyed hashes and `handle_columns`. A keyed
    hash is null where its identifier was dropped (a mother's ID): no handle then. Not made
    distinct here: a chunk repeats few identifiers, and `decrypt_handles` returns distinct
    rows (a key is the hash of its value, so they are distinct by kind and key)."""
    parts = [
        rows.select(handle_key=pl.col(key), handle_value=pl.col(clear).cast(pl.String))
        .drop_nulls()
        .select(pl.lit(kind).alias("handle_kind"), "handle_key", "handle_value")
        for kind, key, clear in HANDLE_KINDS.get(source, ())
    ]
    return pl.concat([pl.DataFrame(schema=HANDLE_SCHEMA), *parts])


def key_fingerprint(public_key: rsa.RSAPublicKey) -> str:
    """Identifies a key pair: the SHA-256 of its public key (DER), shortened."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def _read_key_file(path: Path, role: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WorklistKeyError(f"worklist {role} key file {path} does not exist") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise WorklistKeyError(
            f"worklist {role} key file {path} cannot be read ({reason})"
        ) from None
    if not data.strip():
        raise WorklistKeyError(
            f"worklist {role} key file {path} is empty (restore it, or point"
            f" YIYU_WORKLIST_{role.upper()}_KEY at the {role} key of the pair)"
        )
    return data


def _checked(key: object, path: Path, role: str) -> None:
    wanted = rsa.RSAPrivateKey if role == "private" else rsa.RSAPublicKey
    if not isinstance(key, wanted):
        raise WorklistKeyError(f"worklist {role} key file {path} holds no RSA {role} key")
    if key.key_size < KEY_BITS:
        raise WorklistKeyError(
            f"worklist {role} key file {path} holds a {key.key_size}-bit key;"
            f" at least {KEY_BITS} bits are required"
        )


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """The worklist public key (PEM) of `path`; WorklistKeyError naming the file otherwise."""
    data = _read_key_file(path, "public")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise WorklistKeyError(f"worklist public key file {path} is not a PEM public key") from None
    _checked(key, path, "public")
    return key


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """The worklist private key (PEM, unencrypted) of `path`; WorklistKeyError naming the
    file when it is missing, unreadable or not such a key."""
    data = _read_key_file(path, "private")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise WorklistKeyError(
            f"worklist private key file {path} is not an unencrypted PEM private key"
        ) from None
    _checked(key, path, "private")
    return key


def generate_key_pair(public_path: Path, private_path: Path) -> None:
    """A new pair, each file owner-only and written whole or not at all; the private key
    first, so a public key file always has its private half. When another run linked its
    private key first, its pair is kept and this one's is dropped (see `_await`)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        if not write_owner_only(private_path, private_pem):
            return  # another run's pair is kept
    except OSError as exc:
        raise _unwritable(private_path, exc) from None
    try:
        write_owner_only(public_path, public_pem)
    except OSError as exc:
        private_path.unlink()  # the pair is whole or absent
        raise _unwritable(public_path, exc) from None


def _unwritable(path: Path, exc: OSError) -> WorklistKeyError:
    reason = exc.strerror or type(exc).__name__
    return WorklistKeyError(f"worklist key file {path} cannot be written ({reason})")


def _await(public_path: Path) -> None:
    """Give a run that linked its private key first the moment it needs to link the public."""
    deadline = time.monotonic() + _PAIR_WAIT_SECONDS
    while not public_path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def refresh_public_key(settings: Settings) -> rsa.RSAPublicKey:
    """The public key a refresh encrypts the handles to. At the default files, a pair is
    generated when neither exists; set files are never generated. Reads no private key."""
    public_path, private_path = settings.worklist_public_key, settings.worklist_private_key
    absent = not (public_path.exists() or public_path.is_symlink())
    if settings.worklist_keys_by_default and absent:
        if not private_path.exists():
            generate_key_pair(public_path, private_path)
        _await(public_path)
        if not public_path.exists():
            raise WorklistKeyError(
                f"worklist public key file {public_path} does not exist, but its private key"
                f" {private_path} does: restore the public key, or remove both for a new pair"
            )
    return load_public_key(public_path)


class HandleSealer:
    """Encrypts one cache entry's handles: one data key, wrapped once, one nonce per chunk."""

    def __init__(self, public_key: rsa.RSAPublicKey):
        data_key = AESGCM.generate_key(bit_length=256)
        self._aead = AESGCM(data_key)
        self._wrapped = public_key.encrypt(data_key, _OAEP)
        self._fingerprint = key_fingerprint(public_key)
        self._chunks: list[dict] = []
        self._sealed = io.BytesIO()

    def add(self, handles: pl.DataFrame) -> None:
        """Encrypt a chunk of handles (a serialised table in memory, never on disk)."""
        plain = io.BytesIO()
        # lz4: a fraction of zstd's time; the random hex keys would not shrink much further.
        handles.write_parquet(plain, compression="lz4", statistics=False)
        nonce = os.urandom(12)
        index = len(self._chunks)
        sealed = self._aead.encrypt(nonce, plain.getvalue(), _aad(index))
        self._chunks.append(
            {
                "offset": self._sealed.tell(),
                "length": len(sealed),
                "nonce": base64.b64encode(nonce).decode(),
            }
        )
        self._sealed.write(sealed)

    def write(self, folder: Path) -> None:
        """`handles.bin` and `handles.json` into the (temporary) entry folder."""
        (folder / HANDLES_BIN).write_bytes(self._sealed.getvalue())
        layout = {
            "format": 1,
            "cipher": "AES-256-GCM",
            "key_wrap": "RSA-OAEP-SHA256",
            "public_key_fingerprint": self._fingerprint,
            "wrapped_key": base64.b64encode(self._wrapped).decode(),
            "chunks": self._chunks,
        }
        (folder / HANDLES_JSON).write_text(json.dumps(layout))


def _aad(index: int) -> bytes:
    """Binds a chunk to its place, so chunks cannot be swapped unnoticed."""
    return f"yiyu-handles:{index}".encode()


def _entries(cache_dir: Path) -> Iterable[Path]:
    """The finished entries of the sources with handles (a temporary folder is unfinished)."""
    for source in HANDLE_KINDS:
        folder = cache_dir / source
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if ".tmp" not in entry.name and (entry / HANDLES_JSON).is_file():
                    yield entry


def _open_entry(entry: Path, private_key: rsa.RSAPrivateKey, layout: dict) -> pl.DataFrame:
    try:
        aead = AESGCM(private_key.decrypt(base64.b64decode(layout["wrapped_key"]), _OAEP))
    except ValueError:
        raise WorklistKeyError(
            "the worklist private key does not match the public key the handles were"
            " encrypted to (refresh again after a new key pair)"
        ) from None
    sealed = (entry / HANDLES_BIN).read_bytes()
    parts = [pl.DataFrame(schema=HANDLE_SCHEMA)]
    for index, chunk in enumerate(layout["chunks"]):
        start = chunk["offset"]
        try:
            plain = aead.decrypt(
                base64.b64decode(chunk["nonce"]),
                sealed[start : start + chunk["length"]],
                _aad(index),
            )
        except InvalidTag:
            raise WorklistKeyError(
                f"encrypted handles in {entry} are damaged; refresh with --force to rebuild them"
            ) from None
        parts.append(pl.read_parquet(io.BytesIO(plain)))
    return pl.concat(parts)


def decrypt_handles(
    cache_dir: Path, private_key: rsa.RSAPrivateKey, wanted: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The distinct (handle_kind, handle_key, handle_value) of the cache's entries encrypted
    to `private_key`'s pair, only those of `wanted` (handle_kind, handle_key) when given.
    Entries encrypted to another pair (left by a run that did not finish) are skipped;
    WorklistKeyError when no entry is encrypted to this pair."""
    fingerprint = key_fingerprint(private_key.public_key())
    found = [pl.DataFrame(schema=HANDLE_SCHEMA)]
    others: set[str] = set()
    for entry in _entries(cache_dir):
        layout = json.loads((entry / HANDLES_JSON).read_text())
        if layout["public_key_fingerprint"] != fingerprint:
            others.add(layout["public_key_fingerprint"])
            continue
        handles = _open_entry(entry, private_key, layout)
        if wanted is not None:
            handles = handles.join(
                wanted.select("handle_kind", "handle_key"),
                on=["handle_kind", "handle_key"],
                how="semi",
            )
        found.append(handles)
    if others and len(found) == 1:
        raise WorklistKeyError(
            f"the worklist private key (fingerprint {fingerprint}) does not match the public key"
            f" the handles were encrypted to (fingerprint {sorted(others)[0]}); use the private"
            " key of YIYU_WORKLIST_PUBLIC_KEY, or refresh after a new key pair"
        )
    return pl.concat(found).unique()
