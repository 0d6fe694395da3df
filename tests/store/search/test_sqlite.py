"""SQLite specifics: the FTS5 tables come and go with the migrations; the vocabulary cache."""

from __future__ import annotations

from sqlalchemy import delete, text

from bot.store.models import Story
from bot.store.storage import Storage
from tests.store.search.corpus import add, seed, titles


def test_migration_downgrade_removes_search(sqlite_url: str) -> None:
    from alembic import command

    from bot.store.db import _alembic_config, migrate

    storage = Storage.open(sqlite_url)
    try:
        with storage.engine.begin() as c:
            assert (
                c.execute(
                    text("SELECT count(*) FROM sqlite_master WHERE name='stories_fts'")
                ).scalar()
                == 1
            )
        command.downgrade(_alembic_config(storage.engine), "0001")
        with storage.engine.begin() as c:
            assert (
                c.execute(
                    text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'stories_fts%'")
                ).scalar()
                == 0
            )
            cols = [r[1] for r in c.execute(text("PRAGMA table_info(feeds)"))]
            assert "origin" not in cols
        migrate(storage.engine, "head")
        seed(storage)
        with storage.session() as s:
            assert titles(s, "人工智能")
    finally:
        storage.close()


def test_cached_vocabulary_follows_new_stories(storage: Storage) -> None:
    with storage.write() as s:
        add(s, "监管新规", lang="zh")
    with storage.session() as s:
        assert titles(s, "监管") == ["监管新规"]
    with storage.write() as s:  # a trigram the first lookup did not see: 监管者
        add(s, "监管者说", lang="zh")
    with storage.session() as s:
        assert set(titles(s, "监管")) == {"监管新规", "监管者说"}
    with storage.write() as s:
        s.execute(delete(Story).where(Story.title == "监管新规"))
    with storage.session() as s:
        assert titles(s, "监管") == ["监管者说"]


def test_language_filter_narrows_by_rare_trigrams_and_checks_the_term(storage: Storage) -> None:
    # With a language, a long term is looked up by its rarest trigrams (not as a phrase):
    # stories holding those trigrams but not the term must still be left out.
    with storage.write() as s:
        add(s, "Regulation of models", lang="en")
        add(s, "Die Regulation kommt", lang="de")
        add(s, "Regul ation gulf latitude", lang="de")  # every trigram, never the term
        add(s, "Eine Regulierung", lang="de")
    with storage.session() as s:
        assert titles(s, "regulation", lang="de") == ["Die Regulation kommt"]
        assert titles(s, "regul", lang="de") == [
            "Eine Regulierung",
            "Regul ation gulf latitude",
            "Die Regulation kommt",
        ]
        assert titles(s, "regulation", lang="fr") == []
