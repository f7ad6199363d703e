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


def test_ivf_keeps_product_quantised_codes_and_returns_exact_rescored_neighbours(tmp_path):
    """Above ``exact_max`` the FAISS index holds 1 byte per 4 dimensions; what search returns
    is rescored from the stored vectors: exact inner products, best first, and with every
    list probed nearly all of the exact top k (the fetched 5k hold most of them even with
    codes this coarse), before and after a save, an add and a removal."""
    import faiss

    data = _unit(4000, 32, seed=7)
    index = VectorIndex(32, exact_max=100, nprobe=10_000)
    index.build(data)
    ivf = faiss.downcast_index(index.index)
    assert isinstance(ivf, faiss.IndexIVFPQ) and ivf.code_size == 8
    added = index.add(_unit(5, 32, seed=8))
    index.remove([7, 8])
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, 32, exact_max=100, nprobe=10_000)
    query = _unit(1, 32, seed=9)[0]
    exact = index.similarities(query, np.arange(index.size))
    exact[[7, 8]] = -np.inf
    for which in (index, loaded):
        ids, scores = which.search(query, 10)
        assert np.allclose(scores, which.similarities(query, ids), atol=1e-6)
        assert list(scores) == sorted(scores, reverse=True)
        assert len(set(ids.tolist()) & set(np.argsort(-exact)[:10].tolist())) >= 8
        assert 7 not in ids and which.search(index.vectors[added[2]], 1)[0][0] == added[2]
