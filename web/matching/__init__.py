"""Adapters between the database and the engine: records, the index reader (suggestions), the single index writer and learning from decisions."""
