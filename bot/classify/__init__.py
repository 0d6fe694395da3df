"""Stage 2: decide whether an item is AI-governance news and tag it, keeping evidence.

    from bot.classify import get_classifier
    verdict = get_classifier().classify(title, summary, lang="en", hints=["US"])

The classifier is pure (no database, no network) and data-driven: the vocabulary lives in
YAML files under bot/classify/data/, extendable with `Classifier.load(extra_lexicons=[...])`.
"""

from __future__ import annotations

from functools import lru_cache

from bot.classify import native

# Compiled (mypyc) or pure-Python matcher and engine: decided before anything imports them.
native.select()

from bot.classify.engine import DEFAULT_THRESHOLD, Classifier  # noqa: E402
from bot.classify.entries import LexiconError  # noqa: E402
from bot.verdict import TOPICS, Evidence, Verdict  # noqa: E402

__all__ = [
    "DEFAULT_THRESHOLD",
    "TOPICS",
    "Classifier",
    "Evidence",
    "LexiconError",
    "Verdict",
    "get_classifier",
]


@lru_cache(maxsize=1)
def get_classifier() -> Classifier:
    """The default classifier (shipped lexicons, default threshold), loaded once."""
    return Classifier.load()
