"""Index fingerprints and local features by (algorithm, version, item): schema 4.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

Finding the rows an older version of an algorithm made (reindex.py, and the warning that `check`
and `scan` give about them) then reads one range of an index instead of every row.
The fingerprint index on algorithm alone is dropped: the new one starts with it (ledgers adopted
from schema 1 never had it).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_schema_info = sa.table("schema_info", sa.column("key", sa.String), sa.column("value", sa.String))


def upgrade() -> None:
    # IF (NOT) EXISTS: a ledger adopted by the baseline may lack the old index or, when a test
    # builds an old ledger from a new one, have the new ones. Index changes need no batch mode.
    op.drop_index('ix_fingerprint_algorithm', table_name='fingerprint', if_exists=True)
    op.create_index('ix_fingerprint_algorithm_version', 'fingerprint', ['algorithm', 'version', 'item_id'],
                    if_not_exists=True)
    op.create_index('ix_local_features_algorithm_version', 'local_features', ['algorithm', 'version', 'item_id'],
                    if_not_exists=True)
    _set_schema_version("4")


def downgrade() -> None:
    op.drop_index('ix_local_features_algorithm_version', table_name='local_features')
    op.drop_index('ix_fingerprint_algorithm_version', table_name='fingerprint')
    op.create_index('ix_fingerprint_algorithm', 'fingerprint', ['algorithm'])
    _set_schema_version("3")


def _set_schema_version(value: str) -> None:
    """What builds from before Alembic check: they refuse a ledger newer than they know."""
    op.execute(sa.update(_schema_info).where(_schema_info.c.key == "schema_version").values(value=value))
