import pytest


@pytest.fixture(scope="session")
def embedder():
    """The product's dense channels (MiniLM and multilingual e5), loaded once per session."""
    from matcher.embedding import load_channels

    encoders, errors = load_channels(None)
    assert not errors, errors
    return encoders


@pytest.fixture(scope="session")
def minilm():
    """The English-only channel alone."""
    from matcher.embedding import load_embedder

    return load_embedder(None)
