"""The search indexes persisted beside a ledger, and how they follow it."""

from __future__ import annotations

import json
import shutil

from provenance import Ledger, scan
from provenance.check import Checker
from provenance.index_store import LocalIndexFile, pdq_file

from .conftest import photo, save


def test_an_index_file_follows_a_ledger_restored_from_an_older_copy(tmp_path):
    """A ledger copied away, grown, then restored from the copy (a backup): its index files,
    saved after it grew, hold items the restored ledger never had, and are rebuilt instead of
    answering with them; so too after the restored ledger grows another way."""
    archive = tmp_path / "archive"
    save(photo("rocket"), archive / "a" / "rocket.jpg")
    save(photo("chelsea"), archive / "b" / "chelsea.jpg")
    save(photo("coffee"), archive / "c" / "coffee.jpg")
    db, backup = tmp_path / "l.db", tmp_path / "backup.db"
    with Ledger(db) as led:
        scan(led, archive / "a")
    shutil.copy(db, backup)
    with Ledger(db) as led:
        scan(led, archive / "b")  # the index files now hold chelsea
        assert [m.item_id for m in Checker(led).check_path(str(archive / "b" / "chelsea.jpg")).matches] == [2]
        chelsea = led.item(2).sha256
    assert json.loads((tmp_path / "l.db.orb-v2.words2.json").read_text())["last_item_sha256"] == chelsea
    shutil.copy(backup, db)  # restored: chelsea was never indexed
    with Ledger(db) as led:
        assert Checker(led).check_path(str(archive / "b" / "chelsea.jpg")).matches == []
        assert len(LocalIndexFile(led).load().index) == 1 and len(pdq_file(led).load().index) == 1
        scan(led, archive / "c")  # grown another way: item 2 is coffee now
    with Ledger(db) as led:
        assert Checker(led).check_path(str(archive / "b" / "chelsea.jpg")).matches == []
        assert [m.item_id for m in Checker(led).check_path(str(archive / "c" / "coffee.jpg")).matches] == [2]
