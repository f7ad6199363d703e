"""Index files on disk: versioned snapshots published atomically.

Layout::

    index/
      CURRENT              name of the live snapshot (replaced with os.replace)
      snap-000042/         one complete snapshot: manifest.json + data files
      quarantine/          snapshots that failed verification, kept for inspection

A snapshot is written into a temporary directory, every file fsynced, the directory renamed,
then CURRENT is replaced. A crash at any moment leaves either the old or the new snapshot
live, never a mixture. Readers verify sizes and checksums from the manifest before use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("matcher.store")

FORMAT_VERSION = 1


class IndexMissing(Exception):
    pass


class IndexCorrupt(Exception):
    pass


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write a small file so that readers see the old or the new content, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass
class Snapshot:
    name: str
    path: Path
    manifest: dict


class IndexStore:
    def __init__(self, root: str | Path, keep: int = 2) -> None:
        self.root = Path(root)
        self.keep = keep

    @property
    def current_file(self) -> Path:
        return self.root / "CURRENT"

    def current_name(self) -> str | None:
        try:
            name = self.current_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def write(self, writer, manifest: dict) -> Snapshot:
        """``writer(directory) -> list of file names`` fills a new snapshot; then it goes live."""
        self.root.mkdir(parents=True, exist_ok=True)
        sequence = self._next_sequence()
        name = f"snap-{sequence:06d}"
        tmp = self.root / f".tmp-{name}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            files = writer(tmp)
            manifest = dict(manifest)
            manifest.update(
                format=FORMAT_VERSION,
                snapshot=name,
                written_at=time.time(),
                files={f: {"bytes": (tmp / f).stat().st_size, "sha256": sha256_of(tmp / f)} for f in files},
            )
            with open(tmp / "manifest.json", "w", encoding="utf-8") as handle:
                json.dump(manifest, handle, ensure_ascii=False, indent=1)
            for f in [*files, "manifest.json"]:
                _fsync_file(tmp / f)
            _fsync_dir(tmp)
            final = self.root / name
            os.replace(tmp, final)
            _fsync_dir(self.root)
            atomic_write_text(self.current_file, name + "\n")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._prune(keep_name=name)
        return Snapshot(name, self.root / name, manifest)

    def _next_sequence(self) -> int:
        numbers = [0]
        for path in self.root.glob("snap-*"):
            try:
                numbers.append(int(path.name.split("-", 1)[1]))
            except ValueError:
                continue
        for path in (self.root / "quarantine").glob("snap-*") if (self.root / "quarantine").exists() else []:
            try:
                numbers.append(int(path.name.split("-", 1)[1].split(".")[0]))
            except ValueError:
                continue
        return max(numbers) + 1

    def _prune(self, keep_name: str) -> None:
        snapshots = sorted(p for p in self.root.glob("snap-*") if p.is_dir())
        for path in snapshots[: -self.keep]:
            if path.name != keep_name:
                shutil.rmtree(path, ignore_errors=True)
        for tmp in self.root.glob(".tmp-snap-*"):
            try:
                if time.time() - tmp.stat().st_mtime > 3600:
                    shutil.rmtree(tmp, ignore_errors=True)
            except FileNotFoundError:
                continue

    def open_current(self, *, verify: bool = True) -> Snapshot:
        """The live snapshot, verified; IndexMissing or IndexCorrupt otherwise."""
        name = self.current_name()
        if name is None:
            raise IndexMissing(f"no index at {self.root}")
        path = self.root / name
        try:
            with open(path / "manifest.json", encoding="utf-8") as handle:
                manifest = json.load(handle)
        except FileNotFoundError:
            raise IndexCorrupt(f"snapshot {name} has no manifest") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorrupt(f"snapshot {name}: manifest unreadable ({exc})") from None
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexCorrupt(f"snapshot {name}: format {manifest.get('format')} is not {FORMAT_VERSION}")
        if verify:
            for file, expected in manifest.get("files", {}).items():
                target = path / file
                if not target.exists():
                    raise IndexCorrupt(f"snapshot {name}: {file} is missing")
                if target.stat().st_size != expected["bytes"]:
                    raise IndexCorrupt(f"snapshot {name}: {file} has {target.stat().st_size} bytes, expected {expected['bytes']}")
                if sha256_of(target) != expected["sha256"]:
                    raise IndexCorrupt(f"snapshot {name}: {file} checksum mismatch")
        return Snapshot(name, path, manifest)

    def quarantine(self, reason: str) -> Path | None:
        """Move the live snapshot aside so that a rebuild starts clean."""
        name = self.current_name()
        qdir = self.root / "quarantine"
        qdir.mkdir(parents=True, exist_ok=True)
        moved = None
        if name and (self.root / name).exists():
            moved = qdir / f"{name}.{int(time.time())}"
            os.replace(self.root / name, moved)
            (moved / "QUARANTINE_REASON").write_text(reason + "\n", encoding="utf-8")
        try:
            self.current_file.unlink()
        except FileNotFoundError:
            pass
        log.warning("index quarantined: %s (%s)", reason, moved)
        old = sorted(qdir.iterdir())
        for path in old[:-5]:
            shutil.rmtree(path, ignore_errors=True)
        return moved
