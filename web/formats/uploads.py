"""Uploaded import files kept between the preview and the confirmation.

What is kept is the file's parsed cells (a :class:`Table` as JSON), not the file: it is
parsed once, at upload, and the preview and the confirmation read the cells. It is stored under ``UPLOAD_DIR`` with a random name; the browser only ever holds that
random token, which is checked against a strict pattern before any path is built. The file
belongs to the account that uploaded it and expires after a day.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from ..domain.errors import NotFound, ValidationError
from .spreadsheets import EXTENSIONS, Table, extension

TOKEN_PATTERN = r"[0-9a-f]{32}"
_TOKEN = re.compile(rf"\A{TOKEN_PATTERN}\Z")
MAX_AGE_SECONDS = 24 * 3600
KINDS = ("experts", "needs")


@dataclass(frozen=True)
class StoredUpload:
    token: str
    kind: str
    filename: str
    ext: str
    table: Table


def valid_token(token: object) -> bool:
    return isinstance(token, str) and bool(_TOKEN.match(token))


def _folder() -> Path:
    folder = Path(current_app.config["UPLOAD_DIR"])
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _paths(token: str) -> tuple[Path, Path]:
    if not valid_token(token):
        raise ValidationError("invalid upload token", fields={"token": "invalid"})
    folder = _folder()
    return folder / f"import-{token}.json", folder / f"import-{token}.claimed"


def store(kind: str, filename: str, table: Table, user_id: int) -> str:
    """Keep the parsed ``table`` for a later confirmation; returns the random token naming it."""
    if kind not in KINDS or extension(filename) not in EXTENSIONS:
        raise ValidationError("unknown import kind or file type")
    purge_expired()
    token = secrets.token_hex(16)
    meta_path, _ = _paths(token)
    data_path = meta_path.with_suffix(".data")
    _write_atomically(data_path, table.to_json())
    meta = {"kind": kind, "filename": (filename or "")[:200], "ext": extension(filename), "user_id": user_id,
            "created": time.time()}
    _write_atomically(meta_path, json.dumps(meta).encode())
    return token


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _read(meta_path: Path, token: str, user_id: int) -> StoredUpload:
    try:
        meta = json.loads(meta_path.read_text())
        table = Table.from_json(meta_path.with_name(f"import-{token}.data").read_bytes())
    except (OSError, ValueError, TypeError):
        raise NotFound("this upload does not exist or has already been imported") from None
    if (
        meta.get("user_id") != user_id
        or meta.get("kind") not in KINDS
        or meta.get("ext") not in EXTENSIONS
        or time.time() - float(meta.get("created", 0)) > MAX_AGE_SECONDS
    ):
        raise NotFound("this upload does not exist or has already been imported")
    return StoredUpload(token, meta["kind"], str(meta.get("filename", "")), meta["ext"], table)


def load(token: str, user_id: int) -> StoredUpload:
    meta_path, _ = _paths(token)
    return _read(meta_path, token, user_id)


def claim(token: str, user_id: int) -> StoredUpload:
    """Take the upload for importing; a second confirmation of the same token finds nothing."""
    meta_path, claimed = _paths(token)
    try:
        os.rename(meta_path, claimed)
    except FileNotFoundError:
        raise NotFound("this upload does not exist or has already been imported") from None
    try:
        return _read(claimed, token, user_id)
    except NotFound:
        os.rename(claimed, meta_path)
        raise


def release(upload: StoredUpload) -> None:
    """Give a claimed upload back (the import was refused); it can be previewed again."""
    meta_path, claimed = _paths(upload.token)
    try:
        os.rename(claimed, meta_path)
    except FileNotFoundError:
        pass


def discard(token: str) -> None:
    meta_path, claimed = _paths(token)
    for path in (meta_path, claimed, meta_path.with_suffix(".data")):
        path.unlink(missing_ok=True)


def purge_expired() -> None:
    cutoff = time.time() - MAX_AGE_SECONDS
    for path in _folder().glob("import-*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue
