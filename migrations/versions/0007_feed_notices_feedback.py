"""feed-health notices posted in channels; relevance feedback from channels

`feed_notices` keeps every warning, "moved" and "recovered" notice queued for a feed, with
the destinations it went to: the newest one per feed is the state that keeps the bot from
warning twice a day, across restarts. `feedback` keeps "not relevant" clicks and
`/policy missed` reports with a copy of the story's text, for `policybot feedback export`.

Revision ID: 0007
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "feed_id", sa.Integer(), sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.Column("new_url", sa.Text(), nullable=True),
        sa.Column("destination_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_feed_notices_feed_created", "feed_notices", ["feed_id", "created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "story_id",
            sa.Integer(),
            sa.ForeignKey("stories.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_feedback_story_id", "feedback", ["story_id"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_created_at", "feedback")
    op.drop_index("ix_feedback_story_id", "feedback")
    op.drop_table("feedback")
    op.drop_index("ix_feed_notices_feed_created", "feed_notices")
    op.drop_table("feed_notices")
