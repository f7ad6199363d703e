import json

import pytest

from matcher.store import IndexCorrupt, IndexMissing, IndexStore


def _write(store: IndexStore, payload: str, watermark: int = 1):
    def writer(directory):
        (directory / "data.txt").write_text(payload)
        return ["data.txt"]

    return store.write(writer, {"watermark": watermark})


def test_snapshot_goes_live_atomically_and_old_ones_are_pruned(tmp_path):
    store = IndexStore(tmp_path, keep=2)
    for number in range(4):
        _write(store, f"v{number}", watermark=number)
    snapshot = store.open_current()
    assert (snapshot.path / "data.txt").read_text() == "v3"
    assert snapshot.manifest["watermark"] == 3
    assert len(list(tmp_path.glob("snap-*"))) == 2


def test_missing_index_is_reported(tmp_path):
    with pytest.raises(IndexMissing):
        IndexStore(tmp_path).open_current()


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_damaged_files_are_detected(tmp_path, damage):
    store = IndexStore(tmp_path)
    snapshot = _write(store, "x" * 1000)
    target = snapshot.path / "data.txt"
    if damage == "truncate":
        target.write_text("x" * 10)
    elif damage == "flip":
        target.write_text("y" + "x" * 999)
    elif damage == "delete":
        target.unlink()
    else:
        (snapshot.path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt):
        store.open_current()


def test_quarantine_moves_the_snapshot_aside_and_clears_current(tmp_path):
    store = IndexStore(tmp_path)
    snapshot = _write(store, "x")
    moved = store.quarantine("test")
    assert moved is not None and (moved / "QUARANTINE_REASON").read_text().strip() == "test"
    assert not snapshot.path.exists()
    with pytest.raises(IndexMissing):
        store.open_current()
    _write(store, "fresh")  # a new snapshot never reuses a quarantined name
    assert store.current_name() != snapshot.name
    assert json.loads((tmp_path / store.current_name() / "manifest.json").read_text())["files"]["data.txt"]["bytes"] == 5


def test_failed_writer_leaves_the_previous_snapshot_live(tmp_path):
    store = IndexStore(tmp_path)
    _write(store, "good")

    def broken(directory):
        (directory / "data.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.write(broken, {"watermark": 9})
    assert (store.open_current().path / "data.txt").read_text() == "good"
    assert not list(tmp_path.glob(".tmp-*"))
