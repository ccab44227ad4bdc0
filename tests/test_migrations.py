"""Schema migrations (provenance.migrate, provenance/migrations): on SQLite and PostgreSQL."""

import json
import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel
from typer.testing import CliRunner

from provenance import migrate
from provenance.cli import app
from provenance.errors import LedgerError
from provenance.ledger import Ledger, _make_engine, resolve_db_url
from provenance.models import SCHEMA_VERSION, SchemaInfo

CREATED = "2024-05-01T00:00:00+00:00"


def _engine(db_url):
    return _make_engine(resolve_db_url(db_url))


def _diff(db_url) -> list:
    """What the database lacks or has beyond models.py, as Alembic's autogenerate sees it."""
    engine = _engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, SQLModel.metadata)
    finally:
        engine.dispose()


def _sql(db_url, *statements) -> list:
    """Run the statements in one transaction; the rows of the last."""
    engine = _engine(db_url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                result = conn.execute(text(statement))
            return result.all() if result.returns_rows else []
    finally:
        engine.dispose()


def _pre_alembic_v3(db_url) -> None:
    """A ledger as provenance made it before Alembic: schema 3 (what the baseline creates, which
    was then create_all's schema), schema_info, some rows, and no alembic_version."""
    engine = _engine(db_url)
    now = "2024-05-01 00:00:00+00:00"
    try:
        with engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), migrate.BASELINE)
            conn.execute(text("DROP TABLE alembic_version"))
            conn.execute(text("UPDATE schema_info SET value = :v WHERE key = 'created_at'"), {"v": CREATED})
            conn.execute(text("INSERT INTO outlet (id, name) VALUES (1, 'agency')"))
            conn.execute(text(
                "INSERT INTO item (id, sha256, kind, media_format, width, height, file_size, information, "
                "exif_json, first_indexed_at) VALUES (1, :sha, 'image', 'JPEG', 4, 3, 10, 0.5, '{}', :now)"),
                {"sha": "a" * 64, "now": now})
            conn.execute(text("INSERT INTO sighting (sighting_key, item_id, outlet_id, indexed_at, extra_json) "
                              "VALUES (:key, 1, 1, :now, '{}')"), {"key": "k" * 64, "now": now})
    finally:
        engine.dispose()


def test_empty_database_migrates_to_exactly_the_models(db_url):
    engine = _engine(db_url)
    try:
        before, after = migrate.ensure_current(engine, db_url)
    finally:
        engine.dispose()
    assert before.revisions == () and before.schema_version is None
    assert after.up_to_date and after.revisions == (migrate.head(),) and after.schema_version == SCHEMA_VERSION
    assert _diff(db_url) == []
    with Ledger(db_url) as led:  # and the ledger opens it as it is
        assert led.schema_before == led.schema_after and led.created_at


def test_pre_alembic_ledger_is_stamped_and_keeps_its_rows(db_url):
    _pre_alembic_v3(db_url)
    with Ledger(db_url) as led:
        assert led.schema_before.revisions == () and led.schema_before.schema_version == 3
        assert led.schema_after.revisions == (migrate.head(),)  # stamped at the baseline, then upgraded
        assert led.counts() == {"items": 1, "sightings": 1, "outlets": 1, "links": 0, "parts": 0}
        assert led.created_at == CREATED
        assert led.session.get(SchemaInfo, "works_backfill") is None  # schema 3 has works
    assert _diff(db_url) == []
    assert _sql(db_url, "SELECT version_num FROM alembic_version") == [(migrate.head(),)]


def test_early_schema_3_build_is_repaired(db_url):
    """Before Alembic, create_all could not add frame.tiny or chain_edge's later indexes."""
    _pre_alembic_v3(db_url)
    _sql(db_url, "ALTER TABLE frame DROP COLUMN tiny", "DROP INDEX ix_chain_edge_outlet_parent",
         "DROP INDEX ix_chain_edge_outlet_work", "CREATE INDEX ix_chain_edge_outlet_id ON chain_edge (outlet_id)")
    assert _diff(db_url) != []
    Ledger(db_url).close()
    assert _diff(db_url) == []


def test_ledger_at_a_future_revision_is_refused(db_url):
    Ledger(db_url).close()
    _sql(db_url, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(LedgerError, match="revision 9999, newer"):
        Ledger(db_url)
    with pytest.raises(LedgerError, match="newer"):
        migrate.status(db_url)


def test_pre_alembic_ledger_of_a_newer_schema_is_refused(db_url):
    _pre_alembic_v3(db_url)
    newer = SCHEMA_VERSION + 1
    _sql(db_url, f"UPDATE schema_info SET value = '{newer}' WHERE key = 'schema_version'")
    with pytest.raises(LedgerError, match=f"schema version {newer}, newer"):
        Ledger(db_url)
    assert _sql(db_url, "SELECT count(*) FROM item") == [(1,)]  # untouched


def test_simultaneous_opens_of_a_new_ledger_migrate_once(db_url):
    errors = []

    def open_one():
        try:
            Ledger(db_url).close()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _sql(db_url, "SELECT version_num FROM alembic_version") == [(migrate.head(),)]
    assert _sql(db_url, "SELECT count(*) FROM schema_info WHERE key = 'schema_version'") == [(1,)]


def test_db_current_and_upgrade_commands(db_url):
    runner = CliRunner()
    _pre_alembic_v3(db_url)
    current = runner.invoke(app, ["db", "current", "--db", db_url, "--json"])
    assert current.exit_code == 0, current.output
    assert json.loads(current.stdout) == {"revision": None, "head": migrate.head(), "schema_version": 3,
                                          "up_to_date": False}
    upgraded = runner.invoke(app, ["db", "upgrade", "--db", db_url, "--json"])
    assert upgraded.exit_code == 0, upgraded.output
    report = json.loads(upgraded.stdout)
    assert report["upgraded"] and report["after"]["up_to_date"] and report["after"]["revision"] == migrate.head()
    again = runner.invoke(app, ["db", "upgrade", "--db", db_url])
    assert again.exit_code == 0 and "already at" in again.stdout
    assert "up to date" in runner.invoke(app, ["db", "current", "--db", db_url]).stdout


def test_db_commands_need_an_existing_ledger(tmp_path):
    result = CliRunner().invoke(app, ["db", "current", "--db", str(tmp_path / "absent.db")])
    assert result.exit_code == 2 and "no ledger" in result.stderr


def _run_script(db_url, script: str) -> None:
    """Run an SQL script as a database administrator would (sqlite3's executescript, or one
    simple-protocol query on PostgreSQL)."""
    engine = _engine(db_url)
    try:
        raw = engine.raw_connection()
        try:
            if engine.dialect.name == "sqlite":
                raw.driver_connection.executescript(script)
            else:
                raw.driver_connection.execute(script)
            raw.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()


def test_upgrade_sql_makes_a_new_ledger_equal_to_a_live_upgrade(db_url):
    """`db upgrade --sql --dialect D` prints, and changes nothing; run by hand on an empty database
    it makes a ledger at the newest revision with exactly the models' tables."""
    dialect = "sqlite" if db_url.endswith(".db") else "postgresql"
    result = CliRunner().invoke(app, ["db", "upgrade", "--sql", "--dialect", dialect])
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE item" in result.stdout and f"'{migrate.head()}'" in result.stdout
    _run_script(db_url, result.stdout)
    assert _diff(db_url) == []
    with Ledger(db_url, create=False) as led:
        assert led.schema_before.up_to_date and led.schema_before == led.schema_after
        assert led.counts()["items"] == 0


def test_upgrade_sql_of_a_ledger(db_url):
    """Nothing to print for an up-to-date ledger; a ledger from before migrations needs a live upgrade."""
    runner = CliRunner()
    _pre_alembic_v3(db_url)
    refused = runner.invoke(app, ["db", "upgrade", "--sql", "--db", db_url])
    assert refused.exit_code == 2 and "live upgrade" in refused.stderr
    assert _sql(db_url, "SELECT count(*) FROM item") == [(1,)]  # untouched
    assert runner.invoke(app, ["db", "upgrade", "--db", db_url]).exit_code == 0
    current = runner.invoke(app, ["db", "upgrade", "--sql", "--db", db_url, "--json"])
    assert current.exit_code == 0 and json.loads(current.stdout) == {"sql": ""}
    with pytest.raises(LedgerError, match="dialect"):
        migrate.upgrade_sql(dialect="oracle")
