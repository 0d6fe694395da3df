"""search: indexes for short words, CJK bigrams, and filters that drive a search

SQLite: the trigram table becomes contentless and padded (two trailing spaces per column), so
every 1- and 2-character substring begins some indexed trigram and can be looked up through
an fts5vocab table; it also indexes the story's primary language subtag, so a language filter
is intersected inside FTS5. A second contentless FTS5 table (unicode61: words) answers 1-2
character words such as "AI" or "EU", which a trigram index cannot. Triggers keep both in step.

PostgreSQL: one GIN index on a 'simple' tsvector of words (with CJK characters blanked, so
that "AI法案" yields the word "ai") plus every CJK bigram (two passes: pairs from even and
odd offsets of each CJK run). It serves short words and CJK terms of any length; the pg_trgm
indexes of 0002 stay for longer substrings in other scripts. lower(language) for the
language filter.

Both: entries(feed_id, story_id) and story_tags(kind, value, story_id), so that a source,
jurisdiction or topic filter yields its stories newest first from an index; the latter
replaces story_tags(kind, value), which it covers.

The SQL expressions here must stay identical to those in bot/store/search/postgres.py (a test
compares them); migrations do not import the application.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Primary language subtag, lower-case: 'zh-Hant' -> 'zh', 'pt_BR' -> 'pt', NULL -> ''.
def _lang(col: str) -> str:
    x = f"lower(replace(coalesce({col}, ''), '_', '-'))"
    return f"substr({x}, 1, instr({x} || '-', '-') - 1)"


_TRIGRAM_VALUES = (
    "{p}.id, {p}.title || '  ', {p}.summary || '  ', ' ' || " + _lang("{p}.language") + " || ' '"
)
_WORD_VALUES = "{p}.id, {p}.title, {p}.summary, " + _lang("{p}.language")

_SQLITE_TABLES = (
    "CREATE VIRTUAL TABLE stories_fts USING fts5("
    "title, summary, lang, content='', columnsize=0, tokenize='trigram')",
    "CREATE VIRTUAL TABLE stories_fts_vocab USING fts5vocab(stories_fts, 'row')",
    "CREATE VIRTUAL TABLE stories_fts_words USING fts5("
    "title, summary, lang, content='', columnsize=0,"
    " tokenize='unicode61 remove_diacritics 0')",
)


def _ins(table: str, values: str) -> str:
    return f"INSERT INTO {table}(rowid, title, summary, lang) VALUES ({values});"


def _del(table: str, values: str) -> str:
    return f"INSERT INTO {table}({table}, rowid, title, summary, lang) VALUES ('delete', {values});"


def _sqlite_triggers() -> tuple[str, ...]:
    tn, to = _TRIGRAM_VALUES.format(p="new"), _TRIGRAM_VALUES.format(p="old")
    wn, wo = _WORD_VALUES.format(p="new"), _WORD_VALUES.format(p="old")
    return (
        "CREATE TRIGGER stories_search_ai AFTER INSERT ON stories BEGIN "
        f"{_ins('stories_fts', tn)} {_ins('stories_fts_words', wn)} END",
        "CREATE TRIGGER stories_search_ad AFTER DELETE ON stories BEGIN "
        f"{_del('stories_fts', to)} {_del('stories_fts_words', wo)} END",
        "CREATE TRIGGER stories_search_au AFTER UPDATE OF title, summary, language ON stories"
        " BEGIN "
        f"{_del('stories_fts', to)} {_del('stories_fts_words', wo)} "
        f"{_ins('stories_fts', tn)} {_ins('stories_fts_words', wn)} END",
    )


# 0002's objects, for the downgrade.
_OLD_SQLITE = (
    "CREATE VIRTUAL TABLE stories_fts USING fts5("
    "title, summary, content='stories', content_rowid='id', tokenize='trigram')",
    """CREATE TRIGGER stories_fts_ai AFTER INSERT ON stories BEGIN
      INSERT INTO stories_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
    END""",
    """CREATE TRIGGER stories_fts_ad AFTER DELETE ON stories BEGIN
      INSERT INTO stories_fts(stories_fts, rowid, title, summary)
      VALUES ('delete', old.id, old.title, old.summary);
    END""",
    """CREATE TRIGGER stories_fts_au AFTER UPDATE OF title, summary ON stories BEGIN
      INSERT INTO stories_fts(stories_fts, rowid, title, summary)
      VALUES ('delete', old.id, old.title, old.summary);
      INSERT INTO stories_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
    END""",
    "INSERT INTO stories_fts(stories_fts) VALUES ('rebuild')",
)

# CJK ideographs, kana, Hangul (and their compatibility/half-width forms).
CJK_CLASS = (
    r"\u1100-\u11ff\u2e80-\u2fdf\u3005-\u3007\u3040-\u30ff\u3100-\u318f\u31a0-\u31ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f"
    r"\U00020000-\U0003ffff"
)


def pg_tsvector_sql(text: str) -> str:
    """The indexed tsvector: words without CJK characters, then all CJK bigrams."""
    cjk = f"regexp_replace({text}, '[^{CJK_CLASS}]+', ' ', 'g')"
    even = f"regexp_replace({cjk}, '(\\S\\S)', '\\1 ', 'g')"
    odd = (
        f"regexp_replace(regexp_replace({cjk}, '(^|\\s)(\\S)', '\\1\\2 ', 'g'),"
        " '(\\S\\S)', '\\1 ', 'g')"
    )
    words = f"regexp_replace({text}, '[{CJK_CLASS}]+', ' ', 'g')"
    return f"to_tsvector('simple'::regconfig, {words} || ' ' || {even} || ' ' || {odd})"


PG_TEXT = "(coalesce(title, '') || ' ' || coalesce(summary, ''))"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("stories_fts_au", "stories_fts_ad", "stories_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS stories_fts")
        for ddl in _SQLITE_TABLES:
            op.execute(ddl)
        for ddl in _sqlite_triggers():
            op.execute(ddl)
        op.execute(
            "INSERT INTO stories_fts(rowid, title, summary, lang) SELECT "
            + _TRIGRAM_VALUES.format(p="stories") + " FROM stories"
        )
        op.execute(
            "INSERT INTO stories_fts_words(rowid, title, summary, lang) SELECT "
            + _WORD_VALUES.format(p="stories") + " FROM stories"
        )
        for table in ("stories_fts", "stories_fts_words"):
            op.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    elif dialect == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_stories_search_tsv ON stories"
            f" USING gin (({pg_tsvector_sql(PG_TEXT)}))"
        )
        # The language filter as an index range (lower(language) = 'fr' OR LIKE 'fr-%'),
        # so that it is intersected with the text indexes. SQLite filters inside FTS5.
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_stories_language_lower ON stories"
            " (lower(language) text_pattern_ops)"
        )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index("ix_entries_feed_story", ["feed_id", "story_id"], unique=False)
    with op.batch_alter_table("story_tags", schema=None) as batch_op:
        batch_op.create_index(
            "ix_story_tags_kind_value_story", ["kind", "value", "story_id"], unique=False
        )
        batch_op.drop_index("ix_story_tags_kind_value")


def downgrade() -> None:
    with op.batch_alter_table("story_tags", schema=None) as batch_op:
        batch_op.create_index("ix_story_tags_kind_value", ["kind", "value"], unique=False)
        batch_op.drop_index("ix_story_tags_kind_value_story")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entries_feed_story")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("stories_search_au", "stories_search_ad", "stories_search_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for table in ("stories_fts_words", "stories_fts_vocab", "stories_fts"):
            op.execute(f"DROP TABLE IF EXISTS {table}")
        for ddl in _OLD_SQLITE:
            op.execute(ddl)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_stories_language_lower")
        op.execute("DROP INDEX IF EXISTS ix_stories_search_tsv")
