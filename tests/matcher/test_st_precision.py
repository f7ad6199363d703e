"""The English channel runs in bfloat16 where the CPU has native bf16 dot products: its vectors
stay unit length and agree with float32, so one key space of the embedding store holds both."""

import numpy as np
import pytest

from benchmarks.datasets import load_demo
from matcher.e5_batch import cpu_has_fast_bf16
from matcher.embedding import SentenceTransformerEncoder, load_channel


@pytest.fixture(scope="module")
def english_texts():
    demo = load_demo()
    texts = [f"{a.title}. {a.abstract}" for e in demo.experts for a in e.achievements if a.title.isascii()]
    assert len(texts) >= 8
    return texts[:24]


@pytest.fixture(scope="module")
def pair():
    return SentenceTransformerEncoder(dtype="float32"), SentenceTransformerEncoder(dtype="bfloat16")


def test_bfloat16_vectors_are_unit_length_and_agree_with_float32(pair, english_texts):
    fp32, bf16 = pair
    assert next(bf16._model.parameters()).dtype.is_floating_point and str(next(bf16._model.parameters()).dtype) == "torch.bfloat16"
    for encode in ("encode_passages", "encode_queries"):
        a, b = getattr(fp32, encode)(english_texts), getattr(bf16, encode)(english_texts)
        assert b.dtype == np.float32
        assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
        cosine = np.sum(a * b, axis=1)
        assert cosine.min() >= 0.99
        assert not np.array_equal(a, b)  # really computed in the other precision
    assert fp32.fingerprint == bf16.fingerprint


def test_the_served_channel_takes_bfloat16_where_the_cpu_has_native_bf16():
    assert load_channel("st").dtype == ("bfloat16" if cpu_has_fast_bf16() else "float32")


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(ValueError, match="float16"):
        SentenceTransformerEncoder(dtype="float16")
