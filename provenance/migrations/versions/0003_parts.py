"""Parts: the picture framed in an indexed image, an item of its own: schema 5.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

A part (parts.py) is an item of kind "part" with its own fingerprints and local features, and a
``part`` row naming the indexed item it was cut from and where. A ledger that already holds images
gets schema_info's ``parts_backfill`` mark ("0": images after item 0 were never searched for
parts): `provenance reindex` reads their files, records their parts and moves the mark on with
each batch, then removes it (reindex.py); until then check and scan warn.
"""
from typing import Sequence, Union

from alembic import context, op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_schema_info = sa.table("schema_info", sa.column("key", sa.String), sa.column("value", sa.String))


def upgrade() -> None:
    op.create_table('part',
        sa.Column('item_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('whole_item_id', sa.Integer(), nullable=False),
        sa.Column('x0', sa.Integer(), nullable=False),
        sa.Column('y0', sa.Integer(), nullable=False),
        sa.Column('x1', sa.Integer(), nullable=False),
        sa.Column('y1', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=32), nullable=False),
        sa.Column('version', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['item.id']),
        sa.ForeignKeyConstraint(['whole_item_id'], ['item.id']),
        sa.PrimaryKeyConstraint('item_id')
    )
    op.create_index(op.f('ix_part_whole_item_id'), 'part', ['whole_item_id'], unique=False)
    _set_schema_version("5")
    if not context.is_offline_mode():  # offline SQL is written for an empty database
        images = op.get_bind().execute(sa.text("SELECT 1 FROM item WHERE kind = 'image' LIMIT 1")).first()
        if images is not None:
            op.bulk_insert(_schema_info, [{"key": "parts_backfill", "value": "0"}])


def downgrade() -> None:
    op.execute(sa.delete(_schema_info).where(_schema_info.c.key == "parts_backfill"))
    op.drop_index(op.f('ix_part_whole_item_id'), table_name='part')
    op.drop_table('part')
    _set_schema_version("4")


def _set_schema_version(value: str) -> None:
    """What builds from before Alembic check: they refuse a ledger newer than they know."""
    op.execute(sa.update(_schema_info).where(_schema_info.c.key == "schema_version").values(value=value))
