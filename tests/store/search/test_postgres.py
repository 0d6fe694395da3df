"""PostgreSQL specifics: the indexed expressions are those the migration created."""

from __future__ import annotations

import importlib.util

import pytest
from sqlalchemy import text

from bot.store.search import postgres
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
