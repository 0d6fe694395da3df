"""A classifier read on first use: a poll whose feeds all answered 304 (or held only entries
already stored) never classifies, and reading the lexicons costs most of a second and about
30 MB in a process that may exit right after."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from bot.classify.engine import Classifier
from bot.verdict import Verdict


class Classifies(Protocol):
    """What the poll needs of a classifier: a verdict on one item."""

    def classify(
        self,
        title: str | None,
        summary: str | None = "",
        lang: str | None = None,
        hints: Sequence[str] = (),
    ) -> Verdict: ...


class LazyClassifier:
    """`load()` runs once, in whichever thread first asks for a verdict (the others wait);
    a load that raised is tried again at the next ask."""

    def __init__(self, load: Callable[[], Classifier]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._classifier: Classifier | None = None

    @property
    def loaded(self) -> bool:
        return self._classifier is not None

    def get(self) -> Classifier:
        found = self._classifier
        if found is None:
            with self._lock:
                if self._classifier is None:
                    self._classifier = self._load()
                found = self._classifier
        return found

    def classify(
        self,
        title: str | None,
        summary: str | None = "",
        lang: str | None = None,
        hints: Sequence[str] = (),
    ) -> Verdict:
        return self.get().classify(title, summary, lang=lang, hints=hints)
