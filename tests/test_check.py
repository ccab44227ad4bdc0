import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from provenance import Claim, Ledger, check, history, index_files
from provenance.check import Checker

from .conftest import photo, save


def _screenshot(img: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (720, 1400), (250, 250, 250))
    pic = img.resize((612, round(612 * img.height / img.width)))
    canvas.paste(pic, (54, 260))
    d = ImageDraw.Draw(canvas)
    d.ellipse((30, 40, 110, 120), fill=(40, 90, 160))
    d.text((130, 60), "news_account_42", fill="black", font_size=28)
    d.text((40, 180), "Breaking: look at this picture", fill=(30, 30, 30), font_size=26)
    return canvas


def _indexed(tmp_path):
    led = Ledger(tmp_path / "l.db")
    originals = {n: save(photo(n), tmp_path / "idx" / f"{n}.jpg") for n in ("astronaut", "coffee", "rocket")}
    index_files(led, [originals["astronaut"]], Claim("amaq", None, None, "https://example.org/a"))
    index_files(led, [originals["coffee"], originals["rocket"]], Claim("sana", None, None, None))
    return led


def test_check_finds_screenshot_crop_and_says_why(tmp_path):
    with _indexed(tmp_path) as led:
        q1 = save(_screenshot(photo("astronaut")), tmp_path / "q" / "shot.png")
        w, h = photo("coffee").size
        q2 = save(photo("coffee").crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4)), tmp_path / "q" / "crop.jpg")
        q3 = save(photo("chelsea"), tmp_path / "q" / "unrelated.jpg")
        r1, r2, r3 = check(led, [q1, q2, q3])
        assert r1.matches[0].outlet == "amaq" and r1.matches[0].method == "orb"
        ev = r1.matches[0].evidence
        assert ev["inliers"] >= 20 and "framed" in ev["edits"]
        x0, y0 = ev["quad_in_query"][0]
        assert abs(x0 - 54) < 15 and abs(y0 - 260) < 15  # where the photo sits in the screenshot
        assert r2.matches[0].outlet == "sana" and "cropped" in r2.matches[0].evidence["edits"]
        assert r3.matches == [] and r3.error is None


def test_check_does_not_write_unless_recording(tmp_path):
    with _indexed(tmp_path) as led:
        before = led.counts()
        q = save(_screenshot(photo("rocket")), tmp_path / "q" / "shot.png")
        (result,) = check(led, [q])
        assert led.counts() == before
        (recorded,) = check(led, [q], record=Claim("reposter", None, None, "https://example.org/r"))
        assert recorded.recorded_item_id is not None
        after = led.counts()
        assert (after["items"], after["links"]) == (before["items"] + 1, before["links"] + 1)
        h = history(led, recorded.recorded_item_id)
        assert len(h.item_ids) == 2
        assert [s.outlet for s in h.sightings] == ["sana", "reposter"]  # undated: in indexing order
        assert h.first_seen.outlet == "sana" and h.first_seen.source == "indexed"


def test_unreadable_query_gets_an_error_and_others_still_run(tmp_path):
    with _indexed(tmp_path) as led:
        bad = tmp_path / "q" / "bad.jpg"
        bad.parent.mkdir(parents=True, exist_ok=True)
        bad.write_bytes(b"nope")
        good = save(photo("astronaut"), tmp_path / "q" / "good.jpg")
        r_bad, r_missing, r_good = check(led, [bad, tmp_path / "q" / "missing.jpg", good])
        assert r_bad.error and not r_bad.matches
        assert "cannot read" in r_missing.error
        assert r_good.matches and r_good.matches[0].method in ("sha256", "pdq")
        json.dumps(r_good.to_dict(), default=str)


def test_low_information_queries_match_nothing(tmp_path):
    with _indexed(tmp_path) as led:
        flat = save(Image.new("RGB", (800, 600), (128, 128, 128)), tmp_path / "q" / "flat.png")
        page = Image.new("RGB", (800, 1000), "white")
        d = ImageDraw.Draw(page)
        for i in range(30):
            d.text((30, 20 + 30 * i), f"line {i} of a text only page, nothing else", fill="black", font_size=20)
        page_path = save(page, tmp_path / "q" / "page.png")
        checker = Image.fromarray(((np.add.outer(np.arange(600) // 40, np.arange(800) // 40) % 2) * 255).astype(np.uint8))
        checker_path = save(checker.convert("RGB"), tmp_path / "q" / "checker.png")
        for r in check(led, [flat, page_path, checker_path]):
            assert r.matches == [], r.query


def test_checker_folder_queries(tmp_path):
    with _indexed(tmp_path) as led:
        save(photo("astronaut"), tmp_path / "q" / "a.jpg")
        save(photo("rocket"), tmp_path / "q" / "sub" / "b.png")
        results = list(check(led, [tmp_path / "q"]))
        assert [Path(r.query).name for r in results] == ["a.jpg", "b.png"]
        assert all(r.matches for r in results)
        assert isinstance(Checker(led).matcher.pdq.bits, int)


def test_pdq_beyond_its_lone_threshold_needs_local_features(tmp_path, monkeypatch):
    """PDQ past PDQ_ALONE_MAX counts only when the local-feature stage verifies the same item."""
    from provenance import local_match, matcher

    with _indexed(tmp_path) as led:
        query = save(photo("astronaut").resize((400, 400)), tmp_path / "q" / "a.jpg", quality=70)
        monkeypatch.setattr(matcher, "PDQ_ALONE_MAX", -1)
        (r,) = check(led, [query])
        pdq = [m for m in r.matches if m.method == "pdq"]
        assert pdq and pdq[0].evidence["corroborated_by"] == "orb"
        monkeypatch.setattr(local_match, "search", lambda *a, **k: [])
        (r,) = check(led, [query])
        assert r.matches == []


def _a_writer_gets_the_lock(db: Path) -> bool:
    import sqlite3

    other = sqlite3.connect(db, timeout=0.5, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_a_checker_between_queries_leaves_the_ledger_to_writers(tmp_path):
    """A checker on a writable SQLite ledger (an investigator's script left open) holds no
    transaction between queries, so a scan beside it does not wait for it; a transaction its
    caller had begun is left as it was, uncommitted."""
    import sqlite3

    from provenance import item_chain, outlets

    with _indexed(tmp_path) as led:
        checker = Checker(led)
        assert _a_writer_gets_the_lock(tmp_path / "l.db")
        w, h = photo("coffee").size
        crop = save(photo("coffee").crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4)), tmp_path / "q" / "crop.jpg")
        assert checker.check_path(str(crop)).matches
        assert _a_writer_gets_the_lock(tmp_path / "l.db")
        item_id = checker.check_path(str(crop)).matches[0].item_id
        assert history(led, item_id).sightings and item_chain(led, item_id).item_ids and outlets(led)
        assert _a_writer_gets_the_lock(tmp_path / "l.db")  # the API's other reads end theirs too
        # the caller's own write, not yet committed, stays pending through a check
        led.outlet_id("a-new-outlet")
        assert checker.check_path(str(crop)).matches
        assert led.session.in_transaction() and not _a_writer_gets_the_lock(tmp_path / "l.db")
        led.rollback()
        names = sqlite3.connect(tmp_path / "l.db").execute("SELECT name FROM outlet").fetchall()
        assert ("amaq",) in names and ("a-new-outlet",) not in names  # nothing was committed for it


@pytest.mark.parametrize("call", ["export_ledger", "export_pdq", "outdated_items", "reindex", "confirm_link",
                                  "reject_link", "add_note"])
def test_exports_upgrades_and_judgements_leave_the_ledger_to_writers(tmp_path, call):
    """The API's other operations on a writable SQLite ledger end the transactions they begin
    (their reads, and those after their commits): a scan beside them does not wait for them."""
    import io
    import sqlite3

    import provenance

    with _indexed(tmp_path) as led:
        w, h = photo("coffee").size
        crop = save(photo("coffee").crop((0, 0, w * 3 // 4, h * 3 // 4)), tmp_path / "crop.jpg")
        index_files(led, [crop], Claim("sana"))
        led.commit()
        with sqlite3.connect(tmp_path / "l.db") as other:
            (link,) = other.execute("SELECT id FROM match_link").fetchone()
        assert _a_writer_gets_the_lock(tmp_path / "l.db")
        arguments = {"export_ledger": (tmp_path / "out",), "export_pdq": (io.StringIO(),), "outdated_items": (),
                     "reindex": (), "confirm_link": (link,), "reject_link": (link,), "add_note": ("seen",)}
        keywords = {"add_note": {"item_id": 1}}
        getattr(provenance, call)(led, *arguments[call], **keywords.get(call, {}))
        assert _a_writer_gets_the_lock(tmp_path / "l.db")
