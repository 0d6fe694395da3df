"""search: PostgreSQL index of adjacent word pairs, for "quoted phrases"

A GIN index on the pairs of adjacent words of a story's text (title, then summary), the words
being runs of ASCII letters and digits, lower-case, every other character a separator
(explicit ranges: the same whatever the database's locale). A phrase of such words is looked
up by its pairs ('export+controls'): the index answers adjacency, so a phrase of common words
no longer means reading every story that holds both words. Pairs are made in two passes, from
even and from odd word offsets, as the CJK bigrams of 0003 are.

The SQL expression here must stay identical to bot/store/search/postgres.py's (a test
compares them); migrations do not import the application. SQLite answers phrases from its
FTS5 word table (0003) and changes nothing here.

Revision ID: 0009
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_TEXT = "(coalesce(title, '') || ' ' || coalesce(summary, ''))"


def pg_pairs_sql(text: str) -> str:
    """The indexed tsvector of adjacent ASCII word pairs ('a+b'), lexemes taken verbatim."""
    words = f"btrim(regexp_replace(lower({text}), '[^0-9a-z]+', ' ', 'g'))"
    even = f"regexp_replace({words}, '(\\S+) (\\S+)', '\\1+\\2', 'g')"
    odd = f"regexp_replace(regexp_replace({words}, '^\\S+ ?', ''), '(\\S+) (\\S+)', '\\1+\\2', 'g')"
    return f"array_to_tsvector(string_to_array(btrim({even} || ' ' || {odd}), ' '))"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_stories_search_pairs ON stories"
            f" USING gin (({pg_pairs_sql(PG_TEXT)}))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_stories_search_pairs")
