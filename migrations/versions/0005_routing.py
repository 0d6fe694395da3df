"""feed routing, exclusions and mutes

- feeds.tags: labels a subscription follows with `feeds: [tag:NAME]`;
- subscriptions.feeds (names or "tag:NAME"), exclude (keywords), exclude_jurisdictions,
  exclude_topics;
- muted_since / muted_until on subscriptions (one subscription muted) and destinations (a
  whole channel muted): routing holds posts back while a mute lasts.

Revision ID: 0005
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LISTS = ("feeds", "exclude", "exclude_jurisdictions", "exclude_topics")


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("subscriptions") as batch:
        for name in _LISTS:
            batch.add_column(sa.Column(name, sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("muted_since", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("muted_until", sa.DateTime(), nullable=True))
    with op.batch_alter_table("destinations") as batch:
        batch.add_column(sa.Column("muted_since", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("muted_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("destinations") as batch:
        batch.drop_column("muted_until")
        batch.drop_column("muted_since")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("muted_until")
        batch.drop_column("muted_since")
        for name in reversed(_LISTS):
            batch.drop_column(name)
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("tags")
