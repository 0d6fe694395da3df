"""full-text search over stories; feeds added from chat

SQLite: an FTS5 table with the trigram tokenizer (works for every script, CJK included), as an
external-content index of `stories` kept in step by triggers. PostgreSQL: pg_trgm GIN indexes
on title and summary, which serve ILIKE '%term%' for any language.

Note for later migrations: on SQLite, `batch_alter_table('stories')` recreates the table and
drops these triggers; recreate them (see _SQLITE_TRIGGERS) after such a batch.

Revision ID: 0002
Revises: 0001
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER stories_fts_ai AFTER INSERT ON stories BEGIN
      INSERT INTO stories_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
    END
    """,
    """
    CREATE TRIGGER stories_fts_ad AFTER DELETE ON stories BEGIN
      INSERT INTO stories_fts(stories_fts, rowid, title, summary)
      VALUES ('delete', old.id, old.title, old.summary);
    END
    """,
    """
    CREATE TRIGGER stories_fts_au AFTER UPDATE OF title, summary ON stories BEGIN
      INSERT INTO stories_fts(stories_fts, rowid, title, summary)
      VALUES ('delete', old.id, old.title, old.summary);
      INSERT INTO stories_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
    END
    """,
)


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("origin", sa.String(length=16), nullable=False, server_default="config")
        )
        batch_op.add_column(sa.Column("added_by", sa.String(length=200), nullable=True))

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE stories_fts USING fts5("
            "title, summary, content='stories', content_rowid='id', tokenize='trigram')"
        )
        for ddl in _SQLITE_TRIGGERS:
            op.execute(ddl)
        op.execute("INSERT INTO stories_fts(stories_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        # pg_trgm is a contrib extension (Debian's postgresql package has it; some managed
        # or minimal servers do not): without it substring search reads rows instead.
        available = op.get_bind().exec_driver_sql(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
        )
        if available.first() is None:
            logging.getLogger("alembic").warning(
                "pg_trgm is not available on this PostgreSQL server: search works, but"
                " substrings of 3+ characters (other than CJK) are found by reading stories,"
                " slower on large databases; install the server's contrib package to index them"
            )
            return
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_stories_title_trgm ON stories"
            " USING gin (title gin_trgm_ops)"
        )
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_stories_summary_trgm ON stories"
            " USING gin (summary gin_trgm_ops)"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("stories_fts_au", "stories_fts_ad", "stories_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS stories_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_stories_summary_trgm")
        op.execute("DROP INDEX IF EXISTS ix_stories_title_trgm")
        # pg_trgm stays: other objects may use it, and dropping extensions needs more rights.
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("added_by")
        batch_op.drop_column("origin")
