import sqlite3
from datetime import datetime, timezone

import pytest

from provenance.errors import LedgerError, NotFoundError
from provenance.fingerprints import PDQ, Fingerprint
from provenance.ledger import Ledger, resolve_db_url
from provenance.media import decode_image
from provenance.models import SCHEMA_VERSION

from .conftest import jpeg_bytes, photo


def _decoded(name="coffee"):
    return decode_image(jpeg_bytes(photo(name, 0.5)), f"{name}.jpg")


def test_resolve_db_url(monkeypatch, tmp_path):
    assert resolve_db_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    assert resolve_db_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("PROVENANCE_DB", str(tmp_path / "env.db"))
    assert resolve_db_url(None).endswith("env.db")


def test_items_are_keyed_by_sha256_and_sightings_are_idempotent(db_url):
    with Ledger(db_url) as led:
        d = _decoded()
        fps = [Fingerprint(PDQ.name, PDQ.version, "ab" * 32, 100)]
        item, created = led.add_item(d, 0.5, fps)
        again, created_again = led.add_item(d, 0.5, fps)
        assert created and not created_again and again.id == item.id
        when = datetime(2016, 1, 1, tzinfo=timezone.utc)
        _, c1 = led.add_sighting(item.id, outlet="amaq", url="u", path="/a", published_at=when, published_source="manifest")
        _, c2 = led.add_sighting(item.id, outlet="amaq", url="u", path="/a", published_at=when, published_source="manifest")
        _, c3 = led.add_sighting(item.id, outlet="sana", url="u2", path="/b")
        led.commit()
        assert (c1, c2, c3) == (True, False, True)
        assert led.counts() == {"items": 1, "sightings": 2, "outlets": 2, "links": 0, "parts": 0}
        views = led.sightings([item.id])
        assert [v.outlet for v in views] == ["amaq", "sana"]  # dated first
        assert views[0].published_at == when


def test_links_are_recorded_once_in_either_direction(db_url):
    with Ledger(db_url) as led:
        a, _ = led.add_item(_decoded("coffee"), 0.5, [])
        b, _ = led.add_item(_decoded("chelsea"), 0.5, [])
        assert led.add_link(a.id, b.id, "pdq", 3, {"x": 1})
        assert not led.add_link(a.id, b.id, "pdq", 3, {})
        assert not led.add_link(b.id, a.id, "orb", 40, {})
        assert not led.add_link(a.id, a.id, "pdq", 0, {})
        led.commit()
        assert led.connected_items(a.id) == {a.id, b.id}


def test_file_state_remembers_size_and_mtime(ledger):
    ledger.remember_file("/x.jpg", 10, 123, "s" * 64)
    assert ledger.known_file("/x.jpg", 10, 123) == "s" * 64
    assert ledger.known_file("/x.jpg", 11, 123) is None
    ledger.remember_file("/x.jpg", 11, 124, "t" * 64)
    assert ledger.known_file("/x.jpg", 11, 124) == "t" * 64


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "l.db"
    Ledger(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE schema_info SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    with pytest.raises(LedgerError, match="newer"):
        Ledger(path)


def test_unreadable_ledger_is_a_clear_error(tmp_path):
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="cannot open ledger"):
        Ledger(bad)
    with pytest.raises(LedgerError, match="no ledger"):
        Ledger(tmp_path / "absent.db", create=False)


def test_unknown_item_is_not_found(ledger):
    with pytest.raises(NotFoundError):
        ledger.item(42)


def test_switch_to_wal_waits_for_a_busy_file(tmp_path):
    """Another connection holding the file: the switch to WAL is retried until it is free."""
    import threading
    import time

    from provenance.ledger import _set_wal

    path = str(tmp_path / "busy.db")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    timer = threading.Timer(0.4, lambda: holder.execute("COMMIT"))
    timer.start()
    try:
        waiting = sqlite3.connect(path, timeout=0, isolation_level=None)  # no busy handler: refused at once
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _set_wal(waiting.cursor(), patience=0.0)
        started = time.monotonic()
        _set_wal(waiting.cursor(), patience=10.0)
        assert time.monotonic() - started > 0.2
        assert waiting.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        timer.join()
        holder.close()


def test_outdated_items_are_found_through_indexes_not_a_pass_over_every_row(tmp_path):
    """At a million items every check asks whether any is outdated (reindex.has_outdated): SQLite
    must answer from the (algorithm, version, item) indexes, never by reading every fingerprint."""
    from sqlalchemy import event

    from provenance.reindex import current_versions

    db = tmp_path / "l.db"
    with Ledger(db) as led:
        statements = []
        event.listen(led.session.get_bind(), "before_cursor_execute",
                     lambda conn, cursor, sql, params, *rest: statements.append((sql, params)))
        assert led.outdated_item_ids(*current_versions(), limit=1) == []
        sql, params = statements[-1]
    plan = [row[3] for row in sqlite3.connect(db).execute("EXPLAIN QUERY PLAN " + sql, params)]
    searched = [step for step in plan if "fingerprint" in step or "local_features" in step]
    assert len(searched) == 6 and all("USING COVERING INDEX" in step for step in searched), plan
