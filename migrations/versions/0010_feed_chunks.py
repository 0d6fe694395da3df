"""feed_chunks: what a new process needs to parse only the new entries of a changed feed

For each feed whose last body's entries are all stored: a hash of what the entries' meaning
depends on outside their own bytes (`context`) and a 16-byte hash of each entry element's bytes
(`hashes`, concatenated). Before this, only the running process remembered them, so every
fresh `poll --once` or cron `run --once` parsed each changed feed in full.

Revision ID: 0010
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_chunks",
        sa.Column(
            "feed_id",
            sa.Integer(),
            sa.ForeignKey("feeds.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("context", sa.String(32), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feed_chunks")
