"""search: PostgreSQL index of the relevant stories' ids, in order

A partial index on verdicts(story_id) for the relevant verdicts only. Search keeps to relevant
stories by default, and walks its candidates newest first: with this index PostgreSQL answers
"is it relevant" from the index alone, and merges a tag's or a source's stories (newest
first) with the relevant ones by walking both indexes backwards, stopping at the LIMIT; without
it the planner read every verdict into a hash to find a few thousand. The predicate is written
as search writes it (`relevant IS true`), so the planner can prove that the index serves it.
SQLite plans these through its own indexes and changes nothing here.

Revision ID: 0012
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_verdicts_relevant_story ON verdicts (story_id)"
            " WHERE relevant IS TRUE"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_verdicts_relevant_story")
