"""subscriptions: pings and threads; outbox: the message and thread a post made

A subscription may ping a role or user group (`mention`, optionally only above
`mention_min_score` or for stories naming one of `mention_instruments`) and post each story
as a message, a thread or a forum post (`post_as`); a digest may put its stories in the
thread of its header (`digest_thread`). The outbox keeps the platform's message and thread
ids of what it posted, so a story's follow-up sources find its thread after a restart.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("mention", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("mention_min_score", sa.Float(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("mention_instruments", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(
            sa.Column("post_as", sa.String(16), nullable=False, server_default="message")
        )
        batch.add_column(
            sa.Column("digest_thread", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("message_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("thread_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("thread_id")
        batch.drop_column("message_id")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("digest_thread")
        batch.drop_column("post_as")
        batch.drop_column("mention_instruments")
        batch.drop_column("mention_min_score")
        batch.drop_column("mention")
