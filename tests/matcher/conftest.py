import pytest


@pytest.fixture(scope="session")
def embedder():
    """The real packaged model (loaded once per test session)."""
    from matcher.embedding import load_embedder

    return load_embedder(None)
