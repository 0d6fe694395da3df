"""outbox: who claimed a row (claimed_by), so a claim is one conditional UPDATE

The delivery worker claims a row with `UPDATE ... WHERE status IN ('pending', 'sending') AND
next_attempt_at <= now` and checks that it changed one row: atomic on SQLite and PostgreSQL
alike. `claimed_by` names the process (host:pid:random) holding the lease, for status output
and for recovery that takes only the rows of processes whose lease ran out.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_by")
