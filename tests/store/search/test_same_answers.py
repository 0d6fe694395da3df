"""SQLite and PostgreSQL give the same answers on the same stories, whichever lanes serve them."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.store.search import search_stories
from bot.store.storage import Storage
from tests.conftest import fresh_pg_database
from tests.store.search.corpus import NOW
from tests.store.search.test_planner import _oracle_corpus

QUERIES = [
    "",
    "ai",
    "EU",
    "chips",
    "export rule",
    '"export rule"',
    '"ai act"',
    '"act chips safety"',
    '"said again"',
    "法案",
    "监管",
    "人工智能",
    "智能",
    "안전",
    "model -said",
    "regul",
]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Storage, Storage]]:
    import tempfile

    pg = fresh_pg_database()
    url = next(pg)
    with tempfile.TemporaryDirectory() as d:
        lite = Storage.open(f"sqlite:///{d}/policybot.db")
        post = Storage.open(url)
        try:
            for st in (lite, post):  # the same seed: the same stories, with the same ids
                _oracle_corpus(st, random.Random(11), 300)
            yield lite, post
        finally:
            lite.close()
            post.close()
            next(pg, None)  # the generator drops the database


def _answers(storage: Storage, q: str, kw: dict[str, object]) -> tuple[list[int], int | None]:
    ids: list[int] = []
    with storage.session() as s:
        for page in range(1, 60):
            res = search_stories(s, q, page=page, per_page=25, now=NOW, **kw)  # type: ignore[arg-type]
            ids += [h.story_id for h in res.hits]
            if not res.has_more:
                break
    return ids, res.total


@pytest.mark.parametrize("q", QUERIES)
def test_sqlite_and_postgresql_agree(pair: tuple[Storage, Storage], q: str) -> None:
    lite, post = pair
    rng = random.Random(q)
    filters: list[dict[str, object]] = [
        {},
        {"jurisdiction": rng.choice(["EU", "US", "CN"])},
        {"lang": rng.choice(["en", "zh", "ko"])},
        {"since": NOW - timedelta(days=30)},
        {"source": "Oracle Feed 2"},
        {"relevant_only": False},
    ]
    for kw in rng.sample(filters, 3):
        want = _answers(lite, q, kw)
        assert _answers(post, q, kw) == want, (q, kw)
