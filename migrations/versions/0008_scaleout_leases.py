"""leases: which instance polls a feed, and which one posts to a destination, until when

Several `policybot run` processes on one PostgreSQL database share the work. A due feed is
leased by one of them (`lease_owner`, `lease_until`, taken with `FOR UPDATE SKIP LOCKED`), so
each feed is polled by one instance per interval; a destination is leased by the instance
draining it, so its pacing holds across instances. A lease ends when its holder records the
poll or finishes the drain, when it expires, or at once when its holder's session is gone.

Revision ID: 0008
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("feeds", "destinations"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
            batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    for table in ("feeds", "destinations"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("lease_until")
            batch.drop_column("lease_owner")
