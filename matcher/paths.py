"""Where shipped data lives (read-only; runtime state is elsewhere)."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TAXONOMY_DIR = DATA_DIR / "taxonomies"
GLOSSARY_DIR = DATA_DIR / "glossary"
STOPWORDS_DIR = DATA_DIR / "stopwords"
DEMO_DIR = DATA_DIR / "demo"
