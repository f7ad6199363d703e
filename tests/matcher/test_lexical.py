import numpy as np
import pytest

from matcher.lexical import LexicalIndex

DOCS = {0: ["钛合金", "锻造", "锻造"], 1: ["减振器", "阻尼"], 2: ["钛合金", "涂层", "腐蚀", "防护"], 3: ["弹簧", "疲劳"]}
QUERY = {"钛合金": 1.0, "锻造": 0.5, "腐蚀": 1.0}


def test_delta_segment_scores_like_the_main_segment():
    index = LexicalIndex()
    index.build(DOCS)
    main = index.scores(QUERY, 4)
    index.set(2, DOCS[2])  # same text, now scored by the delta segment
    assert np.allclose(index.scores(QUERY, 4), main, atol=1e-6)
    assert main[0] > 0 and main[2] > 0 and main[1] == 0


def test_removed_items_score_zero_and_updates_replace_text():
    index = LexicalIndex()
    index.build(DOCS)
    index.remove(0)
    assert index.scores(QUERY, 4)[0] == 0
    index.set(3, ["钛合金", "锻造"])
    assert index.scores(QUERY, 4)[3] > 0
    assert not index.contains(0, "钛合金") and index.contains(3, "锻造")


def test_contains_reports_item_tokens(tmp_path):
    index = LexicalIndex()
    index.build(DOCS)
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded.contains(2, "涂层") and not loaded.contains(2, "锻造")
    assert np.allclose(loaded.scores(QUERY, 4), index.scores(QUERY, 4))


def test_scores_cover_new_item_ids_beyond_the_main_segment():
    index = LexicalIndex()
    index.build(DOCS)
    index.set(7, ["腐蚀", "钛合金"])
    scores = index.scores(QUERY, 8)
    assert scores.shape == (8,) and scores[7] > 0
    assert scores[5] == pytest.approx(0.0)


def test_weights_equal_the_bm25s_reference_implementation():
    import bm25s

    corpus = [["钛合金", "锻造", "锻造", "工艺"], ["减振器", "阻尼", "阀"], ["钛合金", "涂层"], ["弹簧", "疲劳", "断裂", "弹簧"],
              ["tilapia", "vaccine", "streptococcus"], ["钛合金", "增材", "制造", "钛合金"]]
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index(corpus, show_progress=False)
    ours = LexicalIndex(k1=1.2, b=0.75)
    ours.build(dict(enumerate(corpus)))
    for query in (["钛合金"], ["钛合金", "锻造"], ["弹簧", "断裂"], ["tilapia", "钛合金"]):
        expected = reference.get_scores(query)
        got = ours.scores({t: 1.0 for t in query}, len(corpus))
        assert np.allclose(got, expected, atol=1e-5), query


def test_grouped_build_equals_concatenated_documents():
    items = {0: ["a", "b"], 1: ["b", "c", "c"], 2: ["a"], 3: ["d", "d", "b"]}
    owner = [0, 0, 1, 1]
    from matcher.lexical import TermCounts

    counts = TermCounts()
    for key in sorted(items):
        counts.add(key, items[key])
    grouped = LexicalIndex()
    grouped.build_from_counts(counts, groups=np.array(owner), keys=[0, 1])
    concatenated = LexicalIndex()
    concatenated.build({0: items[0] + items[1], 1: items[2] + items[3]})
    query = {"a": 1.0, "c": 0.5, "d": 1.0}
    assert np.allclose(grouped.scores(query, 2), concatenated.scores(query, 2))


def test_scores_of_chosen_items_equal_the_full_pass_also_after_a_reload(tmp_path):
    rng = np.random.default_rng(3)
    vocabulary = [f"t{i}" for i in range(60)]
    docs = {i: list(rng.choice(vocabulary, size=int(rng.integers(1, 25)))) for i in range(400)}
    index = LexicalIndex()
    index.build(docs)
    index.remove(5)
    index.set(9, ["t1", "t2", "t2"])
    index.set(401, ["t3", "t1"])
    query = {"t1": 1.0, "t2": 0.5, "t3": 1.0, "t40": 0.7, "unknown": 1.0}
    chosen = np.array([401, 300, 5, 9, 0, 17, 399, 150, 151, 2], dtype=np.int64)
    full = index.scores(query, 402)
    assert np.allclose(index.scores_for(chosen, query), full[chosen], atol=1e-6)
    assert full[chosen].min() == 0.0 and (full[chosen] > 0).sum() >= 6
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert np.allclose(loaded.scores_for(chosen, query), full[chosen], atol=1e-6)


def _random_index(prefix_length: int, seed: int = 5, docs: int = 600) -> tuple[LexicalIndex, dict[int, list[str]]]:
    rng = np.random.default_rng(seed)
    vocabulary = [f"t{i}" for i in range(80)]
    # a Zipf-like vocabulary: a few tokens in most documents, most tokens in few
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    texts = {i: list(rng.choice(vocabulary, size=int(rng.integers(2, 30)), p=weights / weights.sum())) for i in range(docs)}
    index = LexicalIndex(prefix_length=prefix_length)
    index.build(texts)
    return index, texts


@pytest.mark.parametrize("chosen", [np.concatenate([np.arange(0, 600, 2), [4, 4, 598]]),
                                    np.array([4, 598, 17, 4, 300, 301, 77, 5])])
def test_scores_of_chosen_items_with_repeats_equal_the_full_pass(chosen):
    """Both ways of matching a column against the candidates (read whole through the slot map,
    or binary-searched when over ``GATHER_MAX_RATIO`` times longer than the candidates) give
    the full pass's scores, also for an item asked for twice, and leave the map clean."""
    index, _ = _random_index(prefix_length=1000)
    query = {"t0": 1.0, "t1": 0.5, "t7": 1.0, "t30": 0.8, "t79": 1.0}
    chosen = chosen.astype(np.int64)
    full = index.scores(query, 600)
    got = index.scores_for(chosen, query)
    assert np.allclose(got, full[chosen], atol=1e-6)
    assert got[-3] == got[-2] == full[4] or got[0] == got[3] == full[4]
    assert (index._slot_map() == -1).all()
    again = index.scores_for(chosen[::-1].copy(), query)
    assert np.allclose(again, full[chosen[::-1]], atol=1e-6)
    lengths = np.diff(index.matrix.indptr)[[index.vocab[t] for t in query if t in index.vocab]]
    bound = index.GATHER_MAX_RATIO * len(np.unique(chosen))
    if len(chosen) > 100:
        assert lengths.max() <= bound  # every column read through the map
    else:
        assert lengths.min() <= bound < lengths.max()  # both branches ran


def test_top_items_equal_the_exact_top_when_no_column_is_cut():
    index, _ = _random_index(prefix_length=10_000)
    assert len(index._prefix_ids) == 0
    query = {"t0": 1.0, "t3": 0.5, "t12": 1.0, "t50": 1.0}
    full = index.scores(query, 600)
    top = index.top_items(query, 20)
    assert sorted(full[top].tolist(), reverse=True) == pytest.approx(sorted(full, reverse=True)[:20])


def test_top_items_read_only_each_tokens_best_postings():
    """With prefixes of 15 postings, a one-token query still finds that token's 15 best
    documents exactly; documents outside every prefix of a query's tokens are not found."""
    index, texts = _random_index(prefix_length=15)
    long = [t for t, tid in index.vocab.items() if index.doc_freq[tid] > 15]
    assert long and index._prefix_ids.shape == (len(long), 15)
    token = long[0]
    full = index.scores({token: 1.0}, 600)
    found = index.top_items({token: 1.0}, 15)
    assert sorted(full[found].tolist()) == pytest.approx(sorted(full)[-15:])
    query = {t: 1.0 for t in long[:4]}
    reachable = set()
    for t in query:
        reachable.update(index.main_items[index._prefix_ids[index._prefix_slot[index.vocab[t]]]].tolist())
    assert set(index.top_items(query, 600).tolist()) == reachable
    assert len(reachable) < sum(1 for doc in texts.values() if set(doc) & set(query))


def test_top_items_leave_out_removed_items_and_score_delta_items_exactly():
    index, _ = _random_index(prefix_length=15)
    query = {"t0": 1.0, "t1": 1.0}
    first = index.top_items(query, 5)
    index.remove(int(first[0]))
    index.set(700, ["t0", "t1", "t0", "t1"])
    after = index.top_items(query, 5)
    assert int(first[0]) not in after.tolist()
    assert 700 in after.tolist()
