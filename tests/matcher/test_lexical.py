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
