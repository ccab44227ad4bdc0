"""Parts cut from a photographed screen: a part's four corners in its whole: schema 6.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

A part cut from the straightened picture of a photographed screen (parts.py, method "screen") is
no upright box of its whole but a quadrilateral: ``part.quad`` holds its corners in the whole
file's pixels (JSON; NULL for a framed part, which its box describes). The parts finder changes
with it (schema_info ``parts_finder``), so `provenance reindex` searches every image again.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_schema_info = sa.table("schema_info", sa.column("key", sa.String), sa.column("value", sa.String))


def upgrade() -> None:
    op.add_column('part', sa.Column('quad', sa.String(length=200), nullable=True))
    _set_schema_version("6")


def downgrade() -> None:
    with op.batch_alter_table('part') as batch:
        batch.drop_column('quad')
    _set_schema_version("5")


def _set_schema_version(value: str) -> None:
    """What builds from before Alembic check: they refuse a ledger newer than they know."""
    op.execute(sa.update(_schema_info).where(_schema_info.c.key == "schema_version").values(value=value))
