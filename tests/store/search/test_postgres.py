"""PostgreSQL specifics: the indexed expressions are those the migration created."""

from __future__ import annotations

import importlib.util

from bot.store.search import postgres
from tests.conftest import REPO


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
