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
