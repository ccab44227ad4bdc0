"""Schema migrations: every change to the ledger's tables is an Alembic revision (migrations/).

Opening a ledger calls :func:`ensure_current`, which brings the schema to the newest revision
under a lock, so two scans starting together on one ledger upgrade it once. A ledger made before
Alembic (schema_info but no alembic_version) is adopted by the baseline revision, which creates
only what that ledger lacks. A ledger at a revision this build does not know was written by a
newer provenance and is refused. ``provenance db current`` / ``db upgrade`` call :func:`status`
and :func:`upgrade` (``db upgrade --sql``: :func:`upgrade_sql`, the SQL without running it);
``python -m provenance.migrations revision MESSAGE`` writes a new revision.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from .errors import LedgerError
from .models import SCHEMA_VERSION

MIGRATIONS = Path(__file__).with_name("migrations")
#: The revision that creates schema 3, the schema of every ledger made before Alembic.
BASELINE = "0001"
#: pg_advisory_xact_lock key held while the schema is upgraded (ledger_works uses another).
LOCK_KEY = 727465


@dataclass(frozen=True)
class SchemaState:
    """Where a ledger's schema stands."""

    #: The Alembic revision(s) recorded in the ledger; empty before Alembic (or for a new ledger).
    revisions: tuple[str, ...]
    #: schema_info's schema_version (None when the ledger has no tables yet).
    schema_version: int | None
    #: The newest revision this build knows.
    head: str

    @property
    def up_to_date(self) -> bool:
        """True when the ledger is at this build's newest revision."""
        return self.revisions == (self.head,)

    @property
    def unknown(self) -> list[str]:
        """Recorded revisions this build does not know (written by a newer provenance)."""
        return [r for r in self.revisions if not _known(r)]

    def to_dict(self) -> dict:
        """The state as JSON-ready values."""
        return {"revision": ",".join(self.revisions) or None, "head": self.head,
                "schema_version": self.schema_version, "up_to_date": self.up_to_date}


def _known(revision: str) -> bool:
    try:
        return scripts().get_revision(revision) is not None
    except CommandError:
        return False


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code so the installed package needs no alembic.ini."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def scripts() -> ScriptDirectory:
    """The revisions shipped with this build (read once per process)."""
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this build knows."""
    return scripts().get_current_head()


def read_state(conn: Connection) -> SchemaState:
    """The ledger's recorded revision and schema version, read without changing anything."""
    revisions = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    version = None
    if inspect(conn).has_table("schema_info"):
        value = conn.execute(text("SELECT value FROM schema_info WHERE key = 'schema_version'")).scalar()
        version = int(value) if value is not None else None
    return SchemaState(revisions, version, head())


def refuse_newer(state: SchemaState, where: str) -> None:
    """Raise LedgerError when the ledger was written by a newer provenance than this one."""
    if state.unknown:
        raise LedgerError(
            f"ledger {where} is at schema revision {', '.join(state.unknown)}, newer than this "
            f"provenance knows (its newest is {state.head}); upgrade provenance to use it"
        )
    if state.schema_version is not None and state.schema_version > SCHEMA_VERSION:
        raise LedgerError(
            f"ledger {where} has schema version {state.schema_version}, newer than this "
            f"provenance ({SCHEMA_VERSION}); upgrade provenance to use it"
        )


def ensure_current(engine: Engine, where: str) -> tuple[SchemaState, SchemaState]:
    """Bring the ledger's schema to the newest revision; (state before, state after).

    Nothing is locked when the ledger is already current (every open but the first after an
    upgrade). Otherwise the upgrade runs in one transaction that holds a PostgreSQL advisory
    lock, or SQLite's write lock (the ledger's engine begins writers with BEGIN IMMEDIATE), and
    the state is read again under it: a process that waited finds the work done.
    """
    with engine.begin() as conn:
        before = read_state(conn)
        refuse_newer(before, where)
        if before.up_to_date:
            return before, before
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
            before = read_state(conn)
            refuse_newer(before, where)
        if not before.up_to_date:
            command.upgrade(alembic_config(conn), "head")
        return before, read_state(conn)


def status(db: str | None = None) -> SchemaState:
    """Where the ledger at a path or URL stands, without upgrading it (``provenance db current``)."""
    from .ledger import ledger_engine

    with ledger_engine(db, readonly=True) as (engine, where):
        with engine.connect() as conn:
            state = read_state(conn)
            conn.rollback()
    refuse_newer(state, where)
    return state


def upgrade(db: str | None = None) -> tuple[SchemaState, SchemaState]:
    """Upgrade the ledger at a path or URL to the newest revision, data steps included.

    What opening it does anyway; this lets a team upgrade a shared ledger at a moment it
    chooses (``provenance db upgrade``). Returns (state before, state after).
    """
    from .ledger import Ledger

    with Ledger(db, create=False) as ledger:
        return ledger.schema_before, ledger.schema_after


def upgrade_sql(db: str | None = None, *, dialect: str | None = None) -> str:
    """The SQL that would upgrade the ledger at a path or URL to the newest revision, not run.

    For a database administrator who reviews schema changes before a shared ledger takes them
    (``provenance db upgrade --sql``). With ``dialect`` ("postgresql" or "sqlite") and no ``db``:
    the SQL that makes a new ledger in an empty database. Empty when the ledger is up to date. A
    ledger made before migrations is adopted by inspecting its tables, which only a live upgrade
    can do: LedgerError.
    """
    start = None
    if db is not None or dialect is None:
        from .ledger import _display_url, resolve_db_url

        url = resolve_db_url(db)
        state = status(db)
        if state.up_to_date:
            return ""
        if not state.revisions and state.schema_version is not None:
            raise LedgerError(f"ledger {_display_url(url)} was made before migrations; it is adopted by "
                              "inspecting its tables, which needs a live upgrade: run `provenance db upgrade`")
        start = state.revisions[0] if state.revisions else None
        dialect = dialect or url.split(":", 1)[0].split("+", 1)[0]  # postgresql+psycopg -> postgresql
    if dialect not in ("postgresql", "sqlite"):
        raise LedgerError(f"no SQL dialect {dialect!r}: give --dialect postgresql or sqlite, or --db")
    buffer = io.StringIO()
    cfg = alembic_config()
    cfg.output_buffer = buffer
    cfg.attributes["dialect"] = dialect
    command.upgrade(cfg, f"{start}:head" if start else "head", sql=True)
    return buffer.getvalue()


def new_revision(message: str, autogenerate: bool = True) -> list[Path]:
    """Write the next revision into migrations/versions (for developers, from a checkout).

    With ``autogenerate`` the operations are what models.py declares beyond the newest revision,
    found by comparing the models with a scratch SQLite ledger upgraded to head: review them.
    """
    from .ledger import _make_engine

    number = f"{len(list(scripts().walk_revisions())) + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = _make_engine(f"sqlite:///{tmp}/head.db")
        try:
            with engine.begin() as conn:
                command.upgrade(alembic_config(conn), "head")
                written = command.revision(alembic_config(conn), message=message,
                                           autogenerate=autogenerate, rev_id=number)
        finally:
            engine.dispose()
    scripts.cache_clear()
    written = written if isinstance(written, list) else [written]
    return [Path(s.path) for s in written if s is not None]


def main(argv: list[str] | None = None) -> None:
    """``python -m provenance.migrations revision MESSAGE [--empty]`` (see migrations/__main__.py)."""
    parser = argparse.ArgumentParser(prog="python -m provenance.migrations")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision", help="write the next migration, autogenerated from models.py")
    rev.add_argument("message")
    rev.add_argument("--empty", action="store_true", help="an empty revision to fill in by hand")
    args = parser.parse_args(argv)
    for path in new_revision(args.message, autogenerate=not args.empty):
        print(path)
