"""Work identity on every backend: merges, splits, judgements, notes, the stored chain, outlets.

Ledgers here are written through the ledger's own methods with made-up file facts and matcher
evidence (no pixels), so the rules are tested fast and on PostgreSQL too; tests/test_chain.py
does the same with real pictures and the real matcher.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from provenance import Ledger, add_note, confirm_link, outlets, reject_link, split_work
from provenance.chain import work_chain
from provenance.errors import NotFoundError, ProvenanceError
from provenance.fingerprints import PDQ, Fingerprint
from provenance.media import DecodedImage, ExifFacts
from provenance.models import SCHEMA_VERSION, SchemaInfo
from provenance.review import find_link
from provenance.works import parse_work_ref, rebuild, refresh, work_of_item


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def add_item(led: Ledger, name: str, *, size=(600, 400), file_size=60_000, exif: datetime | None = None,
             pdq: str | None = None) -> int:
    """An item with made-up file facts (no pixels)."""
    sha = hashlib.sha256(name.encode()).hexdigest()
    decoded = DecodedImage(name, sha, file_size, "JPEG", size[0], size[1], image=None,  # type: ignore[arg-type]
                           exif=ExifFacts(taken_at=exif))
    fps = [Fingerprint(PDQ.name, PDQ.version, pdq or hashlib.sha256(b"pdq" + name.encode()).hexdigest(), 90)]
    item, _ = led.add_item(decoded, 0.5, fps)
    return item.id


def add_seen(led: Ledger, item_id: int, outlet: str | None, when: str | None, precision: str = "day") -> int:
    s, _ = led.add_sighting(item_id, outlet=outlet, url=f"https://example.org/{outlet}/{item_id}",
                            published_at=day(when) if when else None, published_precision=precision if when else None,
                            published_source="manifest")
    return s.id


def crop_link(led: Ledger, original: int, crop: int, share: float = 0.5) -> None:
    assert led.add_link(original, crop, "orb", 120.0, {"edits": ["cropped"], "visible_share": share, "ncc_blocks": 0.95})


def dup_link(led: Ledger, a: int, b: int, distance: float = 8.0) -> None:
    assert led.add_link(a, b, "pdq", distance, {"bits": 256, "threshold": 31, "edits": []})


def commit(led: Ledger) -> list[dict]:
    rows = refresh(led)
    led.commit()
    return rows


def test_items_linked_form_one_work_and_a_bridge_merges_two(db_url):
    with Ledger(db_url) as led:
        a, b = add_item(led, "a"), add_item(led, "b", size=(300, 200))
        add_seen(led, a, "agency", "2016-01-01")
        add_seen(led, b, "relay", "2016-01-03")
        dup_link(led, a, b)
        c = add_item(led, "c")
        add_seen(led, c, "other", "2016-02-01")
        rows = commit(led)
        assert sorted(r["type"] for r in rows) == ["new_work", "new_work"]
        w_ab, w_c = work_of_item(led, a), work_of_item(led, c)
        assert w_ab == work_of_item(led, b) and w_ab != w_c
        assert work_chain(led, w_ab).first_seen.outlet == "agency"

        bridge = add_item(led, "bridge")
        add_seen(led, bridge, "bridger", "2016-03-01")
        dup_link(led, a, bridge)
        dup_link(led, c, bridge)
        rows = commit(led)
        survivor = min(w_ab, w_c)
        assert {work_of_item(led, i) for i in (a, b, c, bridge)} == {survivor}
        assert led.resolve_work_id(max(w_ab, w_c)) == survivor  # the absorbed id still resolves
        merged = [r for r in rows if r.get("change") == "merged"]
        assert merged == [{"type": "chain_change", "change": "merged", "work_id": survivor,
                           "merged_work_id": max(w_ab, w_c), "link_id": merged[0]["link_id"]}]
        assert any(r["type"] == "new_sighting" and r["item_id"] == bridge for r in rows)
        events = led.work_events([survivor])
        assert [(e["kind"], e["work_id"], e["other_work_id"], e["item_id"]) for e in events] == [
            ("merged", survivor, max(w_ab, w_c), bridge)]
        chain = work_chain(led, max(w_ab, w_c))
        assert chain.work_id == survivor and chain.first_seen.outlet == "agency"


def test_rejecting_a_bridge_splits_the_work_and_the_link_is_never_recreated(db_url):
    with Ledger(db_url) as led:
        a, b, c = add_item(led, "a"), add_item(led, "b"), add_item(led, "c")
        for item, outlet, when in ((a, "agency", "2016-01-01"), (b, "relay", "2016-01-02"), (c, "echo", "2016-01-05")):
            add_seen(led, item, outlet, when)
        dup_link(led, a, b)
        dup_link(led, b, c)
        commit(led)
        work = work_of_item(led, a)
        link = find_link(led, f"{c}:{b}")
        review = reject_link(led, link, by="analyst", note="different crowd, same square")
        assert review.work_id == work and len(review.new_work_ids) == 1
        assert work_of_item(led, a) == work_of_item(led, b) == work
        assert work_of_item(led, c) == review.new_work_ids[0]
        row = next(ln for ln in led.links([b], include_rejected=True) if ln.id == link)
        assert (row.status, row.reviewed_by, row.review_note) == ("rejected", "analyst", "different crowd, same square")
        # no later scan can re-create it, in either direction
        assert not led.add_link(b, c, "pdq", 3.0, {}) and not led.add_link(c, b, "orb", 50.0, {})
        commit(led)
        assert work_of_item(led, c) != work
        kinds = [e["kind"] for e in led.work_events([work])]
        assert kinds == ["split", "link_rejected"]
        # confirming it again merges the two works back, under the older id
        confirm_link(led, link, by="lead", note="same event after all")
        assert work_of_item(led, c) == work
        assert [e["kind"] for e in led.work_events([work])][-2:] == ["merged", "link_confirmed"]


def test_split_moves_the_named_items_and_keeps_the_id_on_the_rest(db_url):
    with Ledger(db_url) as led:
        items = [add_item(led, n) for n in "abcd"]
        for i, item in enumerate(items):
            add_seen(led, item, f"outlet{i}", f"2016-01-0{i + 1}")
        dup_link(led, items[0], items[1])
        dup_link(led, items[1], items[2])
        dup_link(led, items[2], items[3])
        dup_link(led, items[0], items[3])
        commit(led)
        work = work_of_item(led, items[0])
        review = split_work(led, work, [items[0], items[1]], by="analyst", note="wrong match")  # even the oldest
        assert review.work_id == work and len(review.new_work_ids) == 1
        new = review.new_work_ids[0]
        assert [work_of_item(led, i) for i in items] == [new, new, work, work]
        assert len(review.link_ids) == 2  # b-c and a-d were cut
        assert all(ln.status == "rejected" and ln.review_note.startswith(f"split from W{work}")
                   for ln in led.links(items, include_rejected=True) if ln.id in review.link_ids)
        assert work_chain(led, work).item_ids == items[2:]
        with pytest.raises(NotFoundError):
            split_work(led, work, [items[0]])
        with pytest.raises(ProvenanceError):
            split_work(led, work, items[2:])


def test_notes_attach_to_items_and_works(db_url):
    with Ledger(db_url) as led:
        a = add_item(led, "a")
        add_seen(led, a, "agency", "2016-01-01")
        commit(led)
        work = work_of_item(led, a)
        add_note(led, "geolocated to the square", item_id=a, by="analyst")
        add_note(led, "first shown on channel X", work_id=work, by="lead")
        notes = led.notes([a], [work])
        assert [(n["author"], n["text"]) for n in notes] == [("analyst", "geolocated to the square"),
                                                             ("lead", "first shown on channel X")]
        with pytest.raises(ProvenanceError):
            add_note(led, "   ", item_id=a)
        with pytest.raises(NotFoundError):
            add_note(led, "x", item_id=999)


def test_stored_chain_and_report_say_what_changed(db_url):
    with Ledger(db_url) as led:
        o = add_item(led, "o")
        add_seen(led, o, "agency", "2016-01-10")
        c = add_item(led, "c", size=(300, 200))
        add_seen(led, c, "relay", "2016-01-12")
        crop_link(led, o, c)
        rows = commit(led)
        assert [r["type"] for r in rows] == ["new_work"]
        assert rows[0]["first_seen"]["outlet"] == "agency"
        work = work_of_item(led, o)
        assert led.work_row(work)["first_outlet_id"] == led.outlet_id("agency")
        # an earlier sighting of the original, by another outlet, changes the first sighting
        s = add_seen(led, o, "wire", "2016-01-02")
        rows = commit(led)
        types = [(r["type"], r.get("change")) for r in rows]
        assert ("new_sighting", None) in types and ("chain_change", "first_seen") in types
        first_change = next(r for r in rows if r.get("change") == "first_seen")
        assert first_change["old"]["outlet"] == "agency" and first_change["new"]["outlet"] == "wire"
        assert any(r.get("change") == "parent" for r in rows)  # agency's copy now hangs under wire's
        assert led.work_row(work)["first_sighting_id"] == s
        assert refresh(led) == []  # nothing changed since


def test_outlets_first_publishers_copies_and_lag(db_url):
    with Ledger(db_url) as led:
        for n in range(3):  # agency publishes three pictures first; relay copies each a day or more later
            o = add_item(led, f"o{n}")
            add_seen(led, o, "agency", f"2016-0{n + 1}-01")
            c = add_item(led, f"c{n}", size=(300, 200))
            add_seen(led, c, "relay", f"2016-0{n + 1}-0{n + 2}")
            dup_link(led, o, c)
            add_seen(led, c, "echo", f"2016-0{n + 1}-09")
        own = add_item(led, "own")
        add_seen(led, own, "relay", "2016-05-01")
        commit(led)
        stats = {s.outlet: s for s in outlets(led)}
        assert (stats["agency"].first_published, stats["agency"].republished) == (3, 0)
        assert (stats["relay"].first_published, stats["relay"].republished) == (1, 3)
        assert stats["relay"].copies_from == [("agency", 3)]
        assert stats["echo"].copies_from == [("relay", 3)]
        assert stats["agency"].copied_by == [("relay", 3)]
        assert stats["relay"].median_lag == timedelta(days=2)  # lags of 1, 2 and 3 days
        assert stats["echo"].median_lag == timedelta(days=8)
        assert list(stats)[0] == "agency"


def test_ledger_from_before_works_is_upgraded(tmp_path):
    path = tmp_path / "old.db"
    with Ledger(path) as led:
        a, b, c = add_item(led, "a"), add_item(led, "b"), add_item(led, "c")
        add_seen(led, a, "agency", "2016-01-01")
        dup_link(led, a, b)
        commit(led)
    con = sqlite3.connect(path)  # what a schema-1 ledger looks like: no works, no video, no Alembic
    for table in ("chain_edge", "work_event", "note", "work_member", "work", "frame", "video", "part", "alembic_version"):
        con.execute(f"DROP TABLE {table}")
    con.execute("UPDATE schema_info SET value='1' WHERE key='schema_version'")
    con.commit()
    con.close()
    with Ledger(path) as led:
        assert work_of_item(led, a) == work_of_item(led, b) != work_of_item(led, c)
        assert led.session.get(SchemaInfo, "schema_version").value == str(SCHEMA_VERSION)
        assert led.session.get(SchemaInfo, "works_backfill") is None  # done once, mark removed
        assert rebuild(led) == 2
        assert work_chain(led, work_of_item(led, a)).first_seen.outlet == "agency"


def test_work_references():
    assert parse_work_ref("W12") == 12 and parse_work_ref(" w7 ") == 7
    assert parse_work_ref("12") is None and parse_work_ref("W") is None and parse_work_ref("Wx1") is None
