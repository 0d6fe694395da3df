"""PostgreSQL specifics: the indexed expressions are those the migration created."""

from __future__ import annotations

import importlib.util

import pytest
from sqlalchemy import text

from bot.store.models import StoryTag
from bot.store.search import postgres
from bot.store.search.filters import make_filters
from bot.store.search.query import parse_query
from bot.store.storage import Storage
from tests.conftest import REPO
from tests.store.search.corpus import add, titles


def test_migration_sql_matches_the_module() -> None:
    spec = importlib.util.spec_from_file_location(
        "m0003", REPO / "migrations" / "versions" / "0003_search_indexes.py"
    )
    assert spec and spec.loader
    mig = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mig)
    assert mig.CJK_CLASS == postgres.CJK_CLASS
    assert mig.pg_tsvector_sql(mig.PG_TEXT) == postgres.pg_tsvector_sql(postgres.PG_TEXT)


def test_pairs_migration_sql_matches_the_module() -> None:
    spec = importlib.util.spec_from_file_location(
        "m0009", REPO / "migrations" / "versions" / "0009_search_pairs.py"
    )
    assert spec and spec.loader
    mig = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mig)
    assert mig.pg_pairs_sql(mig.PG_TEXT) == postgres.pg_pairs_sql(postgres.PG_TEXT)


def test_phrase_pairs_only_for_plain_ascii_words() -> None:
    assert postgres.phrase_pairs("export controls on") == ["export+controls", "controls+on"]
    assert postgres.phrase_pairs("ai-act, g7") == ["ai+act", "act+g7"]
    assert postgres.phrase_pairs("règlement européen") is None  # é: a separator to the index
    assert postgres.phrase_pairs("single") is None


def test_search_without_pg_trgm_indexes(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A server without the contrib package: 0002 creates no trigram indexes; search still
    # finds substrings (by reading rows), and says why it is slower.
    storage = Storage.open(pg_url)
    try:
        with storage.write() as s:
            s.execute(text("DROP INDEX ix_stories_title_trgm"))
            s.execute(text("DROP INDEX ix_stories_summary_trgm"))
            add(s, "Lawmakers debate deregulation", lang="en")
            add(s, "Chips and more chips", lang="en")
            add(s, "Une règle de dérégulation", lang="fr")
        monkeypatch.setattr(postgres, "_trgm", {})
        warned: list[str] = []
        monkeypatch.setattr(postgres.log, "warning", lambda event, **kw: warned.append(event))
        with storage.session() as s:
            assert titles(s, "regulat") == ["Lawmakers debate deregulation"]
            assert titles(s, "dérégul", lang="fr") == ["Une règle de dérégulation"]
            assert titles(s, '"more chips"') == ["Chips and more chips"]
        assert warned == ["search.no_pg_trgm"]
    finally:
        storage.close()


def test_hit_set_is_joined_with_the_tag_and_source_filters(pg_url: str) -> None:
    # A CJK term held by many stories and a jurisdiction few of them have: the hit set is
    # the stories with both (joined in PostgreSQL), not every story with the term.
    storage = Storage.open(pg_url)
    try:
        with storage.write() as s:
            ids = [add(s, f"監管 报道 {i}", lang="zh") for i in range(12)]
            s.add_all(StoryTag(story_id=i, kind="jurisdiction", value="CN") for i in ids[::4])
            s.add(
                StoryTag(story_id=add(s, "芯片 出口", lang="zh"), kind="jurisdiction", value="CN")
            )
        with storage.session() as s:
            assert s.scalar(
                text(
                    "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_verdicts_relevant_story'"
                )
            )
            f = make_filters(
                s,
                jurisdiction="cn",
                topic=None,
                since=None,
                source=None,
                lang=None,
                relevant_only=True,
            )
            assert f is not None
            hits = [
                lane.driver
                for lane in postgres.pg_text_lanes(s, parse_query("監管"), f)
                if isinstance(lane.driver, postgres.PgHits)
            ]
            assert len(hits) == 1
            got, _ = hits[0].step(s, max(ids) + 10, 100)
            assert got == sorted(ids[::4], reverse=True)
            assert titles(s, "監管", jurisdiction="CN") == [f"監管 报道 {i}" for i in (8, 4, 0)]
    finally:
        storage.close()
