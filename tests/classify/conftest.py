from __future__ import annotations

import pytest

from bot.classify import Classifier, get_classifier


@pytest.fixture(scope="session")
def clf() -> Classifier:
    return get_classifier()
