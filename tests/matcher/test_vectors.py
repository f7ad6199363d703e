import numpy as np

from matcher.vectors import VectorIndex


def _unit(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    data = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def test_exact_below_threshold_and_ivf_above():
    small = VectorIndex(16, exact_max=100)
    small.build(_unit(50, 16))
    assert small.kind == "exact"
    large = VectorIndex(16, exact_max=100, nprobe=64)
    large.build(_unit(3000, 16))
    assert large.kind == "ivf"


def test_search_finds_the_query_itself_and_skips_removed_items():
    for exact_max in (10_000, 100):
        data = _unit(3000, 16, seed=1)
        index = VectorIndex(16, exact_max=exact_max, nprobe=64)
        index.build(data)
        ids, _ = index.search(data[42], 5)
        assert ids[0] == 42
        index.remove([42])
        ids, _ = index.search(data[42], 5)
        assert 42 not in ids


def test_incremental_add_returns_consecutive_ids_and_is_searchable():
    index = VectorIndex(8, exact_max=1000)
    index.build(_unit(10, 8))
    new = _unit(3, 8, seed=5)
    ids = index.add(new)
    assert list(ids) == [10, 11, 12]
    found, _ = index.search(new[1], 1)
    assert found[0] == 11
    assert np.allclose(index.similarities(new[1], np.array([11])), [1.0], atol=1e-5)


def test_save_and_load_round_trip(tmp_path):
    index = VectorIndex(8, exact_max=1000)
    index.build(_unit(20, 8))
    index.remove([3])
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, 8, exact_max=1000, nprobe=8)
    assert loaded.size == 20 and not loaded.alive[3]
    assert loaded.index.ntotal == 19
