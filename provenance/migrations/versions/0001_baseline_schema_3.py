"""Baseline: schema 3, the schema of every ledger made before Alembic.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

On an empty database this creates every table. On a ledger made before Alembic (it has
schema_info) it creates only what that ledger lacks, so it also adopts older ledgers:
schema 1 (no works, no video), schema 2 (no video), and early builds of schema 2 and 3 (without
the chain_edge covering indexes, or frame.tiny). Such a ledger's schema_version becomes 3, and
one from before works gets schema_info's ``works_backfill`` mark: the ledger gives every item its
work on the next open (ledger_works.WorkStore._upgrade_works), which needs the chain code.
"""
from datetime import datetime, timezone
from typing import Sequence, Union

from alembic import context, op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SCHEMA_VERSION = 3
TABLES = ['schema_info', 'outlet', 'item', 'sighting', 'fingerprint', 'local_features', 'match_link', 'file_state', 'work', 'work_member', 'work_event', 'chain_edge', 'note', 'video', 'frame']
_schema_info = sa.table("schema_info", sa.column("key", sa.String), sa.column("value", sa.String))
_existing: set[str] = set()


def _absent(table: str) -> bool:
    return table not in _existing


def upgrade() -> None:
    _existing.clear()
    if not context.is_offline_mode():  # offline SQL is written for an empty database
        _existing.update(sa.inspect(op.get_bind()).get_table_names())
    version = _legacy_version()
    # Schema 1: the ledger.
    if _absent('schema_info'):
        op.create_table('schema_info',
            sa.Column('key', sa.String(length=64), nullable=False),
            sa.Column('value', sa.String(), nullable=False),
            sa.PrimaryKeyConstraint('key')
        )
    if _absent('outlet'):
        op.create_table('outlet',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('name', sa.String(length=200), nullable=False),
            sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_outlet_name'), 'outlet', ['name'], unique=True)
    if _absent('item'):
        op.create_table('item',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('sha256', sa.String(length=64), nullable=False),
            sa.Column('kind', sa.String(length=16), nullable=False),
            sa.Column('media_format', sa.String(length=32), nullable=False),
            sa.Column('width', sa.Integer(), nullable=False),
            sa.Column('height', sa.Integer(), nullable=False),
            sa.Column('file_size', sa.BigInteger(), nullable=False),
            sa.Column('information', sa.Float(), nullable=False),
            sa.Column('exif_taken_at', sa.DateTime(), nullable=True),
            sa.Column('exif_json', sa.Text(), nullable=False),
            sa.Column('first_indexed_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_item_sha256'), 'item', ['sha256'], unique=True)
    if _absent('sighting'):
        op.create_table('sighting',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('sighting_key', sa.String(length=64), nullable=False),
            sa.Column('item_id', sa.Integer(), nullable=False),
            sa.Column('outlet_id', sa.Integer(), nullable=True),
            sa.Column('path', sa.Text(), nullable=True),
            sa.Column('url', sa.Text(), nullable=True),
            sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('published_precision', sa.String(length=8), nullable=True),
            sa.Column('published_source', sa.String(length=32), nullable=True),
            sa.Column('indexed_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('extra_json', sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
            sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], ),
            sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_sighting_item_id'), 'sighting', ['item_id'], unique=False)
        op.create_index(op.f('ix_sighting_outlet_id'), 'sighting', ['outlet_id'], unique=False)
        op.create_index(op.f('ix_sighting_published_at'), 'sighting', ['published_at'], unique=False)
        op.create_index(op.f('ix_sighting_sighting_key'), 'sighting', ['sighting_key'], unique=True)
    if _absent('fingerprint'):
        op.create_table('fingerprint',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('item_id', sa.Integer(), nullable=False),
            sa.Column('algorithm', sa.String(length=32), nullable=False),
            sa.Column('version', sa.String(length=16), nullable=False),
            sa.Column('value', sa.Text(), nullable=False),
            sa.Column('quality', sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('item_id', 'algorithm', 'version', name='uq_fingerprint')
        )
        op.create_index(op.f('ix_fingerprint_algorithm'), 'fingerprint', ['algorithm'], unique=False)
        op.create_index(op.f('ix_fingerprint_item_id'), 'fingerprint', ['item_id'], unique=False)
    if _absent('local_features'):
        op.create_table('local_features',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('item_id', sa.Integer(), nullable=False),
            sa.Column('algorithm', sa.String(length=32), nullable=False),
            sa.Column('version', sa.String(length=16), nullable=False),
            sa.Column('data', sa.LargeBinary(), nullable=False),
            sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('item_id', 'algorithm', 'version', name='uq_local_features')
        )
        op.create_index(op.f('ix_local_features_item_id'), 'local_features', ['item_id'], unique=False)
    if _absent('match_link'):
        op.create_table('match_link',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('earlier_item_id', sa.Integer(), nullable=False),
            sa.Column('later_item_id', sa.Integer(), nullable=False),
            sa.Column('method', sa.String(length=32), nullable=False),
            sa.Column('distance', sa.Float(), nullable=True),
            sa.Column('evidence_json', sa.Text(), nullable=False),
            sa.Column('found_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('status', sa.String(length=16), nullable=False),
            sa.Column('reviewed_by', sa.String(length=200), nullable=True),
            sa.Column('review_note', sa.Text(), nullable=True),
            sa.ForeignKeyConstraint(['earlier_item_id'], ['item.id'], ),
            sa.ForeignKeyConstraint(['later_item_id'], ['item.id'], ),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('earlier_item_id', 'later_item_id', name='uq_match_link')
        )
        op.create_index(op.f('ix_match_link_earlier_item_id'), 'match_link', ['earlier_item_id'], unique=False)
        op.create_index(op.f('ix_match_link_later_item_id'), 'match_link', ['later_item_id'], unique=False)
        op.create_index(op.f('ix_match_link_status'), 'match_link', ['status'], unique=False)
    if _absent('file_state'):
        op.create_table('file_state',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('path', sa.Text(), nullable=False),
            sa.Column('size', sa.BigInteger(), nullable=False),
            sa.Column('mtime_ns', sa.BigInteger(), nullable=False),
            sa.Column('sha256', sa.String(length=64), nullable=False),
            sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('path')
        )

    # Schema 2: works, the materialised chain, notes.
    if _absent('work'):
        op.create_table('work',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('merged_into_id', sa.Integer(), nullable=True),
            sa.Column('stale', sa.Boolean(), nullable=False),
            sa.Column('item_count', sa.Integer(), nullable=False),
            sa.Column('sighting_count', sa.Integer(), nullable=False),
            sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('first_seen_precision', sa.String(length=8), nullable=True),
            sa.Column('first_seen_source', sa.String(length=16), nullable=True),
            sa.Column('first_sighting_id', sa.Integer(), nullable=True),
            sa.Column('first_item_id', sa.Integer(), nullable=True),
            sa.Column('first_outlet_id', sa.Integer(), nullable=True),
            sa.Column('flags_json', sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(['first_outlet_id'], ['outlet.id'], ),
            sa.ForeignKeyConstraint(['merged_into_id'], ['work.id'], ),
            sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_work_first_outlet_id'), 'work', ['first_outlet_id'], unique=False)
        op.create_index(op.f('ix_work_merged_into_id'), 'work', ['merged_into_id'], unique=False)
        op.create_index(op.f('ix_work_stale'), 'work', ['stale'], unique=False)
    if _absent('work_member'):
        op.create_table('work_member',
            sa.Column('item_id', sa.Integer(), autoincrement=False, nullable=False),
            sa.Column('work_id', sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
            sa.ForeignKeyConstraint(['work_id'], ['work.id'], ),
            sa.PrimaryKeyConstraint('item_id')
        )
        op.create_index(op.f('ix_work_member_work_id'), 'work_member', ['work_id'], unique=False)
    if _absent('work_event'):
        op.create_table('work_event',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('work_id', sa.Integer(), nullable=False),
            sa.Column('kind', sa.String(length=16), nullable=False),
            sa.Column('other_work_id', sa.Integer(), nullable=True),
            sa.Column('item_id', sa.Integer(), nullable=True),
            sa.Column('link_id', sa.Integer(), nullable=True),
            sa.Column('actor', sa.String(length=200), nullable=True),
            sa.Column('note', sa.Text(), nullable=True),
            sa.Column('at', sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(['work_id'], ['work.id'], ),
            sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_work_event_work_id'), 'work_event', ['work_id'], unique=False)
    if _absent('chain_edge'):
        op.create_table('chain_edge',
            sa.Column('sighting_id', sa.Integer(), autoincrement=False, nullable=False),
            sa.Column('work_id', sa.Integer(), nullable=False),
            sa.Column('item_id', sa.Integer(), nullable=False),
            sa.Column('outlet_id', sa.Integer(), nullable=True),
            sa.Column('parent_sighting_id', sa.Integer(), nullable=True),
            sa.Column('parent_outlet_id', sa.Integer(), nullable=True),
            sa.Column('date_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('date_source', sa.String(length=16), nullable=True),
            sa.Column('basis', sa.String(length=32), nullable=False),
            sa.Column('reason', sa.Text(), nullable=False),
            sa.Column('alternatives_json', sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(['sighting_id'], ['sighting.id'], ),
            sa.ForeignKeyConstraint(['work_id'], ['work.id'], ),
            sa.PrimaryKeyConstraint('sighting_id')
        )
        op.create_index('ix_chain_edge_outlet_parent', 'chain_edge', ['outlet_id', 'parent_outlet_id'], unique=False)
        op.create_index('ix_chain_edge_outlet_work', 'chain_edge', ['outlet_id', 'work_id', 'date_source', 'date_at'], unique=False)
        op.create_index(op.f('ix_chain_edge_work_id'), 'chain_edge', ['work_id'], unique=False)
    if _absent('note'):
        op.create_table('note',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('item_id', sa.Integer(), nullable=True),
            sa.Column('work_id', sa.Integer(), nullable=True),
            sa.Column('author', sa.String(length=200), nullable=True),
            sa.Column('text', sa.Text(), nullable=False),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
            sa.ForeignKeyConstraint(['work_id'], ['work.id'], ),
            sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_note_item_id'), 'note', ['item_id'], unique=False)
        op.create_index(op.f('ix_note_work_id'), 'note', ['work_id'], unique=False)

    # Schema 3: video.
    if _absent('video'):
        op.create_table('video',
            sa.Column('item_id', sa.Integer(), autoincrement=False, nullable=False),
            sa.Column('container', sa.String(length=32), nullable=False),
            sa.Column('duration_s', sa.Float(), nullable=True),
            sa.Column('fps', sa.Float(), nullable=True),
            sa.Column('video_codec', sa.String(length=32), nullable=False),
            sa.Column('audio_codecs', sa.String(length=200), nullable=False),
            sa.Column('creation_time', sa.DateTime(timezone=True), nullable=True),
            sa.Column('encoder', sa.Text(), nullable=True),
            sa.Column('title', sa.Text(), nullable=True),
            sa.Column('rotation', sa.Integer(), nullable=False),
            sa.Column('keyframe_count', sa.Integer(), nullable=False),
            sa.Column('metadata_json', sa.Text(), nullable=False),
            sa.Column('track_algorithm', sa.String(length=32), nullable=False),
            sa.Column('track_version', sa.String(length=16), nullable=False),
            sa.Column('track', sa.LargeBinary(), nullable=False),
            sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
            sa.PrimaryKeyConstraint('item_id')
        )
    if _absent('frame'):
        op.create_table('frame',
            sa.Column('item_id', sa.Integer(), autoincrement=False, nullable=False),
            sa.Column('video_item_id', sa.Integer(), nullable=False),
            sa.Column('timestamp_s', sa.Float(), nullable=False),
            sa.Column('reason', sa.String(length=16), nullable=False),
            sa.Column('tiny', sa.LargeBinary(), nullable=True),
            sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
            sa.ForeignKeyConstraint(['video_item_id'], ['item.id'], ),
            sa.PrimaryKeyConstraint('item_id')
        )
        op.create_index(op.f('ix_frame_video_item_id'), 'frame', ['video_item_id'], unique=False)

    if not _absent("chain_edge"):
        _repair_chain_edge()
    if not _absent("frame"):
        _repair_frame()
    _record_version(version)


def _legacy_version() -> int | None:
    """schema_info's schema_version of a ledger made before Alembic (None for a new one)."""
    if _absent("schema_info"):
        return None
    value = op.get_bind().execute(
        sa.select(_schema_info.c.value).where(_schema_info.c.key == "schema_version")).scalar()
    return None if value is None else int(value)


def _repair_chain_edge() -> None:
    """Early builds of schema 2 indexed chain_edge.outlet_id alone instead of the covering indexes."""
    have = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("chain_edge")}
    if "ix_chain_edge_outlet_parent" not in have:
        op.create_index('ix_chain_edge_outlet_parent', 'chain_edge', ['outlet_id', 'parent_outlet_id'], unique=False)
    if "ix_chain_edge_outlet_work" not in have:
        op.create_index('ix_chain_edge_outlet_work', 'chain_edge', ['outlet_id', 'work_id', 'date_source', 'date_at'], unique=False)
    if "ix_chain_edge_outlet_id" in have:  # covered by ix_chain_edge_outlet_parent
        op.drop_index('ix_chain_edge_outlet_id', table_name='chain_edge')


def _repair_frame() -> None:
    """Early builds of schema 3 had no keyframe thumbnails."""
    if "tiny" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("frame")}:
        with op.batch_alter_table("frame") as batch_op:
            batch_op.add_column(sa.Column('tiny', sa.LargeBinary(), nullable=True))


def _record_version(version: int | None) -> None:
    """schema_version 3 (what builds from before Alembic check), the creation time of a new ledger."""
    if version is None:
        op.execute(sa.delete(_schema_info).where(_schema_info.c.key.in_(["schema_version", "created_at"])))
        op.bulk_insert(_schema_info, [
            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            {"key": "created_at", "value": datetime.now(timezone.utc).isoformat()},
        ])
        return
    if version < 2 or "work" not in _existing:
        op.bulk_insert(_schema_info, [{"key": "works_backfill", "value": "pending"}])
    if version < SCHEMA_VERSION:
        op.execute(sa.update(_schema_info).where(_schema_info.c.key == "schema_version")
                   .values(value=str(SCHEMA_VERSION)))


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
