"""Fixtures of the search tests: a fresh database on SQLite and PostgreSQL, seeded or not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.store.storage import Storage
from tests.store.search.corpus import seed


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    s = Storage.open(db_url)
    yield s
    s.close()


@pytest.fixture
def seeded(storage: Storage) -> tuple[Storage, dict[str, int]]:
    return storage, seed(storage)
