"""Parts: the picture framed in an indexed post, indexed on its own and reported as the post."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from provenance import Ledger, parts, scan
from provenance.check import Checker
from provenance.matcher import Match
from provenance.media import decode_image
from provenance.models import PartRecord

from .conftest import jpeg_bytes, photo, save
from .test_framing import _phone_post

DARK = ((21, 32, 43), (230, 230, 230))
#: The part of the photograph (451 x 300) another post shows: its top-left 60%.
CROP = (0, 0, 271, 180)


def _item_id(led: Ledger, path) -> int:
    """The id of the item a scanned file is."""
    return led.item_by_sha(decode_image(path.read_bytes()).sha256).id


def _decoded(image: Image.Image):
    return decode_image(jpeg_bytes(image), name="post.jpg", working_side=2400)


def test_the_picture_framed_in_a_post_is_a_part_and_a_photograph_has_none():
    post, box = _phone_post(photo("chelsea"))
    found = parts.find_parts(_decoded(post))
    assert len(found) == 1
    assert all(abs(a - b) <= 12 for a, b in zip(found[0].box, box)), (found[0].box, box)
    part = found[0].prints
    assert (part.width, part.height) == (found[0].box[2] - found[0].box[0], found[0].box[3] - found[0].box[1])
    assert part.local_blob is not None and part.get("pdq") is not None
    assert part.sha256 == parts.part_key(_decoded(post).sha256, found[0].box)
    assert parts.find_parts(_decoded(photo("chelsea"))) == []
    # a picture that fills most of its page (bars above and below) has enough of the whole already
    letterboxed = Image.new("RGB", (1200, 900), (0, 0, 0))
    letterboxed.paste(photo("coffee").resize((1200, 700)), (0, 100))
    assert parts.find_parts(_decoded(letterboxed)) == []


@settings(max_examples=30, deadline=None)
@given(width=st.integers(8, 600), height=st.integers(8, 600), seed=st.integers(0, 1000),
       background=st.sampled_from([(255, 255, 255), (0, 0, 0), (21, 32, 43)]))
def test_any_page_gives_parts_inside_it_within_the_bounds_or_none(width, height, seed, background):
    """Blocks of random colour on a flat page of random size: any part found lies inside the image,
    covers at most MAX_SHARE of it, is at least MIN_SIDE and at most MAX_ASPECT long, and is keyed."""
    rng = np.random.default_rng(seed)
    page = Image.new("RGB", (width, height), background)
    w, h = int(rng.integers(1, width + 1)), int(rng.integers(1, height + 1))
    blocks = rng.integers(0, 256, (max(1, h // 8), max(1, w // 8), 3), dtype=np.uint8)
    page.paste(Image.fromarray(blocks).resize((w, h), Image.Resampling.NEAREST),
               (int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))))
    decoded = _decoded(page)
    for part in parts.find_parts(decoded):
        x0, y0, x1, y1 = part.box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        w, h = part.prints.width, part.prints.height
        assert min(w, h) >= parts.MIN_SIDE and max(w, h) <= parts.MAX_ASPECT * min(w, h)
        if part.method == "framed":
            assert (w, h) == (x1 - x0, y1 - y0) and part.quad is None
            assert w * h <= parts.MAX_SHARE * width * height * 1.05
        else:  # a bright block in a dark page taken for a screen: its corners lie within the box
            quad = np.array(part.quad)
            assert np.all((quad >= [x0, y0]) & (quad <= [x1, y1]))
        assert part.prints.sha256 == parts.part_key(decoded.sha256, part.box, part.method)


def test_evidence_about_a_part_is_carried_into_its_whole():
    """A point of the part and the same point of the whole land on one query pixel."""
    h_part = np.array([[0.5, 0.02, 30.0], [-0.01, 0.5, 12.0], [1e-5, 0.0, 1.0]])
    box, whole = (100, 400, 900, 1000), (1080, 2340)
    evidence = {"homography": h_part.tolist(), "visible_in_original": [0, 0, 800, 300], "visible_share": 0.5,
                "correspondences": [[[10.0, 20.0], [35.0, 22.0]]], "edits": ["scaled"],
                "quad_in_query": [[0, 0]] * 4, "inliers": 40}
    row = PartRecord(item_id=9, whole_item_id=3, x0=100, y0=400, x1=900, y1=1000, method="framed", version="1")
    ev = parts.whole_evidence(evidence, row, (800, 600), whole)

    def project(h, x, y):
        p = np.asarray(h) @ np.array([x, y, 1.0])
        return p[:2] / p[2]

    assert np.allclose(project(ev["homography"], 110, 420), project(h_part, 10, 20))
    assert np.allclose(ev["quad_in_query"][2], project(ev["homography"], *whole), atol=0.01)
    assert ev["visible_in_original"] == [100, 400, 900, 700]
    assert ev["visible_share"] == pytest.approx(0.5 * 800 * 600 / (1080 * 2340), abs=1e-4)
    assert ev["correspondences"] == [[[110.0, 420.0], [35.0, 22.0]]]
    assert ev["edits"] == ["cropped", "scaled"] and ev["inliers"] == 40
    # a match that is no part's stays as it is
    other = Match(7, "orb", 40.0, dict(evidence))
    folded = parts.fold_parts([other, Match(9, "orb", 40.0, dict(evidence))], {9: row}, {3: whole, 9: (800, 600)})
    assert [m.item_id for m in folded] == [7, 3]
    assert folded[0].evidence == evidence and folded[1].evidence["part"]["item_id"] == 9


@pytest.fixture
def posts_archive(tmp_path):
    """An archive holding a screenshot of a post of a photograph, and another photograph."""
    root = tmp_path / "archive"
    save(_phone_post(photo("chelsea"))[0], root / "post.jpg")
    save(photo("rocket"), root / "rocket.jpg")
    return root


def test_a_scan_indexes_the_part_of_a_post_once(posts_archive, db_url):
    with Ledger(db_url) as led:
        scan(led, posts_archive)
        post = led.item_by_sha(decode_image((posts_archive / "post.jpg").read_bytes()).sha256)
        (part,) = led.parts_of(post.id)
        assert led.item(part.item_id).kind == "part" and led.sightings([part.item_id]) == []
        assert led.parts_of(_item_id(led, posts_archive / "rocket.jpg")) == []
        assert part.item_id not in led.work_ids_of([post.id, part.item_id])
        counts = led.counts()
        summary = scan(led, posts_archive)
        assert led.counts() == counts and summary.new_items == 0
        # the post checked again is one match, its own bytes, with its part folded into it
        (own,) = Checker(led).check_path(str(posts_archive / "post.jpg")).matches
        assert own.item_id == post.id and own.method == "sha256"


def test_a_hashes_only_scan_leaves_parts_to_the_scan_that_completes_it(posts_archive, tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        scan(led, posts_archive, hashes_only=True)
        assert led.counts()["parts"] == 0
        summary = scan(led, posts_archive)
        assert summary.completed == 2 and led.counts()["parts"] == 1


def test_another_post_of_the_picture_finds_the_indexed_post_through_its_part(posts_archive, tmp_path):
    """A post of a crop of the same photograph in a dark theme, and the photograph itself, find the
    indexed post; the evidence names the part and places the post's outline around the picture."""
    other_post, box_in_query = _phone_post(photo("chelsea").crop(CROP), *DARK)
    save(other_post, tmp_path / "other.jpg", quality=80)
    save(photo("chelsea"), tmp_path / "photograph.jpg")
    with Ledger(tmp_path / "l.db") as led:
        scan(led, posts_archive)
        post = led.item_by_sha(decode_image((posts_archive / "post.jpg").read_bytes()).sha256)
        (part,) = led.parts_of(post.id)
        checker = Checker(led)
        (found,) = checker.check_path(str(tmp_path / "other.jpg")).matches
        assert found.item_id == post.id and found.method == "orb"
        ev = found.evidence
        assert ev["part"]["item_id"] == part.item_id and ev["part"]["box"] == [part.x0, part.y0, part.x1, part.y1]
        assert "cropped" in ev["edits"] and ev["visible_share"] < 0.4
        vx0, vy0, vx1, vy1 = ev["visible_in_original"]  # the crop shown: within the post's picture
        assert part.x0 - 2 <= vx0 < vx1 <= part.x1 + 2 and part.y0 - 2 <= vy0 < vy1 <= part.y1 + 2
        # the post's outline extends beyond the query's picture: the page is the indexed post's own
        quad = np.array(ev["quad_in_query"])
        assert quad[:, 1].min() < box_in_query[1] - 100 and quad[:, 1].max() > box_in_query[3] + 100
        (from_photo,) = checker.check_path(str(tmp_path / "photograph.jpg")).matches
        assert from_photo.item_id == post.id
    # the evidence picture outlines the picture in the query (red), not the post's outline beyond it
    from provenance.visual import _caption, draw_match

    drawn = Image.open(draw_match(tmp_path / "other.jpg", found, tmp_path / "why.png")).convert("RGB")
    header = drawn.height - 720  # the titles and the caption, in as many lines as it takes
    scale = (drawn.height - header) / other_post.height
    x0, y0, x1, y1 = box_in_query
    top = [drawn.getpixel((round(x), header + round(y0 * scale))) for x in np.linspace(x0 * scale + 5, x1 * scale - 5, 12)]
    assert sum(1 for r, g, b in top if r > 200 and g < 100 and b < 100) >= 8, top
    assert "framed picture" in _caption(found)


def test_without_parts_the_other_post_is_not_found(posts_archive, tmp_path, monkeypatch):
    """What the part adds: the whole post alone does not verify a crop of its picture in a post of
    another theme (its features and template give the picture too few points and blocks)."""
    monkeypatch.setattr(parts, "MAX_SHARE", 0.0)
    other_post, _ = _phone_post(photo("chelsea").crop(CROP), *DARK)
    save(other_post, tmp_path / "other.jpg", quality=80)
    with Ledger(tmp_path / "l.db") as led:
        scan(led, posts_archive)
        assert led.counts()["items"] == 2
        assert Checker(led).check_path(str(tmp_path / "other.jpg")).matches == []


def test_an_interrupted_scan_keeps_each_part_with_its_whole(posts_archive, tmp_path):
    """A part is written in its whole's transaction: a batch rolled back loses both, the scan that
    resumes records both, and no part is recorded twice."""
    save(_phone_post(photo("coffee"), *DARK)[0], posts_archive / "z-post.jpg")
    seen = []

    def interrupt_at_the_third(path):
        seen.append(path)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with Ledger(tmp_path / "l.db") as led:
        with pytest.raises(KeyboardInterrupt):
            scan(led, posts_archive, progress=interrupt_at_the_third, batch_size=2)
        assert led.counts()["items"] == 2 and led.counts()["parts"] == 1  # post.jpg's, in batch 1
        scan(led, posts_archive, batch_size=2)
        scan(led, posts_archive, batch_size=2)
        assert (led.counts()["items"], led.counts()["parts"]) == (3, 2)


def test_explain_tries_the_part_too(posts_archive, tmp_path):
    """explain shows the looks against the post and against its part; the part's verify."""
    from provenance.check import explain_match

    other_post, _ = _phone_post(photo("chelsea").crop(CROP), *DARK)
    save(other_post, tmp_path / "other.jpg", quality=80)
    with Ledger(tmp_path / "l.db") as led:
        scan(led, posts_archive)
        post = led.item_by_sha(decode_image((posts_archive / "post.jpg").read_bytes()).sha256)
        part_id = led.parts_of(post.id)[0].item_id
        looks = explain_match(led, str(tmp_path / "other.jpg"), post.id)
    assert {f.part_item_id for f in looks} == {None, part_id}
    assert all(f.refusal is not None for f in looks if f.part_item_id is None)
    assert any(f.refusal is None for f in looks if f.part_item_id == part_id)


def test_a_ledger_from_before_parts_is_marked_and_reindex_finds_its_parts(posts_archive, tmp_path, db_url,
                                                                         monkeypatch):
    """Migration 0003 marks a ledger that holds images (their parts were never sought); reindex
    reads their files, records their parts and removes the mark; check and scan warn until then."""
    from alembic import command
    from sqlalchemy import text

    from provenance import migrate
    from provenance.ledger import _make_engine, resolve_db_url
    from provenance.reindex import has_outdated, reindex

    other_post, _ = _phone_post(photo("chelsea").crop(CROP), *DARK)
    save(other_post, tmp_path / "other.jpg", quality=80)
    db = db_url
    with monkeypatch.context() as before_parts:
        before_parts.setattr(parts, "MAX_SHARE", 0.0)
        with Ledger(db) as led:
            scan(led, posts_archive)
    engine = _make_engine(resolve_db_url(db))  # the ledger as the build before parts left it
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0002")
        assert conn.execute(text("SELECT count(*) FROM schema_info WHERE key = 'parts_backfill'")).scalar() == 0
    engine.dispose()
    with Ledger(db) as led:  # opening it upgrades it
        assert led.parts_backfill_after() == 0 and has_outdated(led)
        assert Checker(led).check_path(str(tmp_path / "other.jpg")).matches == []
        summary = reindex(led, batch_size=1)
        assert summary.parts_added == 1 and summary.refreshed == 0 and summary.unreadable == []
        assert led.parts_backfill_after() is None and not has_outdated(led)
        assert led.counts()["parts"] == 1
        (found,) = Checker(led).check_path(str(tmp_path / "other.jpg")).matches
        assert found.evidence["part"]["item_id"] == led.parts_of(found.item_id)[0].item_id
        assert reindex(led).parts_added == 0  # nothing left to do


def test_a_new_ledger_needs_no_parts_backfill(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        assert led.parts_backfill_after() is None


def test_history_of_a_part_is_its_posts(posts_archive, tmp_path):
    """The id of a part (as evidence names it) leads `provenance history` to the post's history."""
    import json

    from typer.testing import CliRunner

    from provenance.cli import app

    db = str(tmp_path / "l.db")
    with Ledger(db) as led:
        scan(led, posts_archive)
        post = _item_id(led, posts_archive / "post.jpg")
        part = led.parts_of(post)[0].item_id
    runner = CliRunner()
    of_part = runner.invoke(app, ["history", str(part), "--db", db, "--json"])
    assert of_part.exit_code == 0 and f"picture framed in item {post}" in of_part.stderr
    assert json.loads(of_part.stdout) == json.loads(runner.invoke(app, ["history", str(post), "--db", db, "--json"]).stdout)


def test_every_method_of_finding_parts_has_its_words_and_a_retired_one_plain_words():
    """A method added to METHODS without its wording would name its parts as a retired one's."""
    assert set(parts.WORDING) == set(parts.METHODS)
    for method in [*parts.METHODS, "retired"]:
        words = parts.wording(method)
        assert "part 7" in words.place.format(id=7, box=[1, 2, 3, 4]) and "item 9" in words.whole.format(whole=9)
        assert words.note and words.caption
    assert "(retired)" in parts.wording("retired").place and "(retired)" in parts.wording("retired").note


def test_a_new_ledger_records_its_parts_finder(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        assert led.parts_finder() == parts.finder() == "framed-1,screen-1,screen_whole-1"
    with Ledger(tmp_path / "l.db", readonly=True) as led:
        assert led.parts_finder() == parts.finder()


def test_parts_of_another_finder_take_no_part_until_reindex_cuts_them_again(posts_archive, tmp_path, db_url,
                                                                            monkeypatch):
    """After an upgrade of the parts finder, the parts the old one cut are left out of matching
    (the new one may not cut them), check and scan warn, and reindex searches every image again,
    recording the new finder's parts and the finder; a re-run has nothing to do."""
    from provenance.reindex import has_outdated, outdated_items, reindex

    other_post, _ = _phone_post(photo("chelsea").crop(CROP), *DARK)
    save(other_post, tmp_path / "other.jpg", quality=80)
    with Ledger(db_url) as led:
        scan(led, posts_archive)
        post = _item_id(led, posts_archive / "post.jpg")
        (old,) = led.parts_of(post)
        assert Checker(led).check_path(str(tmp_path / "other.jpg")).matches[0].evidence["part"]["version"] == "1"
        monkeypatch.setitem(parts.METHODS, "framed", "2")  # the upgrade
        assert led.parts_finder() == "framed-1,screen-1,screen_whole-1" and has_outdated(led)
        assert len(outdated_items(led)) == 2  # both images wait, the photograph too
        assert Checker(led).check_path(str(tmp_path / "other.jpg")).matches == []
        summary = reindex(led, batch_size=1)
        assert summary.parts_added == 1 and summary.refreshed == 0 and summary.unreadable == []
        assert led.parts_finder() == "framed-2,screen-1,screen_whole-1" and led.parts_backfill_after() is None
        assert not has_outdated(led)
        new = next(p for p in led.parts_of(post) if p.item_id != old.item_id)
        assert (new.method, new.version) == ("framed", "2") and (new.x0, new.y0, new.x1, new.y1) == (
            old.x0, old.y0, old.x1, old.y1)
        (found,) = Checker(led).check_path(str(tmp_path / "other.jpg")).matches
        assert found.item_id == post and found.evidence["part"]["item_id"] == new.item_id
        assert found.evidence["part"]["version"] == "2"
        assert led.counts()["parts"] == 1 and led.counts()["items"] == 2  # the old part counts as neither
        again = reindex(led)
        assert again.outdated == 0 and again.parts_added == 0


def test_a_part_with_outdated_prints_is_cut_again_from_its_whole(posts_archive, tmp_path, db_url):
    """A part has no file: when its fingerprints are of an older version, reindex reads its whole's
    file, cuts the part at its box again and gives it the current prints (not "no usable copy")."""
    from sqlalchemy import update

    from provenance.fingerprints import PDQ
    from provenance.models import FingerprintRecord
    from provenance.reindex import has_outdated, outdated_items, reindex

    with Ledger(db_url) as led:
        scan(led, posts_archive)
        post = _item_id(led, posts_archive / "post.jpg")
        (part,) = led.parts_of(post)
        value = led.fingerprint_value(part.item_id, PDQ.name, PDQ.version)
        F = FingerprintRecord
        led.session.execute(update(F).where(F.item_id == part.item_id, F.algorithm == PDQ.name).values(version="0"))
        led.commit()  # as an older PDQ left it
        assert outdated_items(led) == [part.item_id]
        summary = reindex(led)
        assert (summary.outdated, summary.parts_refreshed, summary.refreshed) == (1, 1, 0)
        assert summary.unreadable == [] and summary.parts_left == [] and summary.parts_added == 0
        assert led.fingerprint_value(part.item_id, PDQ.name, PDQ.version) == value and not has_outdated(led)
        # a part its whole's file no longer frames at that box is named, and left as it was
        P = PartRecord
        led.session.execute(update(P).where(P.item_id == part.item_id).values(x0=part.x0 + 9))
        led.session.execute(update(F).where(F.item_id == part.item_id, F.algorithm == PDQ.name).values(version="0"))
        led.commit()
        summary = reindex(led)
        assert [i for i, _ in summary.parts_left] == [part.item_id] and summary.parts_refreshed == 0
        assert "no longer shows a picture there" in summary.parts_left[0][1]


def _photographed_post(name: str, seed: int = 3):
    """A phone photo of a screen showing a post of a photograph, and where the post's picture lies
    in it (its corners: top-left, top-right, bottom-right, bottom-left)."""
    import cv2

    from .test_screen import KEYSTONE, photographed_screen

    post, box = _phone_post(photo(name))
    shown = post.resize((540, 1170), Image.Resampling.LANCZOS)
    taken, shot = photographed_screen(shown, KEYSTONE, wall=120.0, seed=seed)
    sx, sy = 540 / post.width, 1170 / post.height
    x0, y0, x1, y1 = box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy
    to_photo = cv2.getPerspectiveTransform(np.float32([[0, 0], [540, 0], [540, 1170], [0, 1170]]), np.float32(shot))
    corners = cv2.perspectiveTransform(np.float32([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]), to_photo)[0]
    return taken, corners


def test_the_post_on_a_photographed_screen_is_a_part_with_its_corners():
    """A phone photo of a post: its picture, straightened, is a part of method "screen" whose
    corners are where the picture was shot."""
    taken, corners = _photographed_post("chelsea")
    decoded = _decoded(taken)
    (part,) = parts.find_parts(decoded)
    assert part.method == "screen" and part.quad is not None
    diagonal = float(np.hypot(*(corners[2] - corners[0])))
    assert np.abs(np.array(part.quad) - corners).max() <= 0.04 * diagonal, (part.quad, corners.tolist())
    quad = np.array(part.quad)
    assert tuple(part.box) == (int(np.floor(quad[:, 0].min())), int(np.floor(quad[:, 1].min())),
                               int(np.ceil(quad[:, 0].max())), int(np.ceil(quad[:, 1].max())))
    assert part.prints.sha256 == parts.part_key(decoded.sha256, part.box, "screen")
    # the straightened picture is about as wide as the picture was shot
    w = part.prints.width
    shot_w = (np.linalg.norm(corners[1] - corners[0]) + np.linalg.norm(corners[2] - corners[3])) / 2
    assert abs(w - shot_w) <= 0.06 * shot_w


def test_a_photographed_screen_showing_no_page_is_a_part_whole():
    """A phone photo of a monitor showing a photograph: the screen's picture, straightened, is a
    part of method "screen_whole" whose corners are where the screen was shot; the photograph
    itself has none."""
    from .test_screen import KEYSTONE, photographed_screen

    taken, shot = photographed_screen(photo("rocket"), KEYSTONE)
    decoded = _decoded(taken)
    (part,) = parts.find_parts(decoded)
    assert part.method == "screen_whole"
    diagonal = float(np.hypot(*(np.subtract(shot[2], shot[0]))))
    assert np.abs(np.array(part.quad) - np.array(shot)).max() <= 0.04 * diagonal, (part.quad, shot)
    quad = np.array(part.quad)
    assert tuple(part.box) == (int(np.floor(quad[:, 0].min())), int(np.floor(quad[:, 1].min())),
                               int(np.ceil(quad[:, 0].max())), int(np.ceil(quad[:, 1].max())))
    assert part.prints.sha256 == parts.part_key(decoded.sha256, part.box, "screen_whole")
    assert parts.find_parts(_decoded(photo("rocket"))) == []


def test_evidence_about_a_screen_part_is_carried_through_its_perspective():
    """A point of a part cut from a photographed screen and the point of the photo it was cut from
    land on one query pixel; the visible region and the correspondences follow the perspective."""
    import cv2

    quad = [[210.0, 320.0], [690.0, 350.0], [700.0, 720.0], [190.0, 700.0]]
    row = PartRecord(item_id=9, whole_item_id=3, x0=190, y0=320, x1=700, y1=720, method="screen", version="1",
                     quad=json.dumps(quad))
    part_size, whole = (500, 380), (900, 1200)
    h_part = np.array([[0.9, 0.0, 40.0], [0.0, 0.9, 60.0], [0.0, 0.0, 1.0]])
    evidence = {"homography": h_part.tolist(), "visible_in_original": [0, 0, 500, 190], "visible_share": 0.5,
                "correspondences": [[[100.0, 50.0], [130.0, 105.0]]], "edits": [],
                "quad_in_query": [[40, 60], [490, 60], [490, 402], [40, 402]], "inliers": 30}
    (folded,) = parts.fold_parts([Match(9, "orb", 30.0, dict(evidence))], {9: row}, {9: part_size, 3: whole})
    ev = folded.evidence
    to_whole = cv2.getPerspectiveTransform(np.float32([[0, 0], [500, 0], [500, 380], [0, 380]]), np.float32(quad))

    def project(h, x, y):
        p = np.asarray(h, dtype=np.float64) @ np.array([x, y, 1.0])
        return p[:2] / p[2]

    for x, y in ((0, 0), (250, 190), (500, 380), (100, 50)):
        assert np.allclose(project(ev["homography"], *project(to_whole, x, y)), project(h_part, x, y), atol=1e-6)
    assert np.allclose(ev["correspondences"][0][0], project(to_whole, 100, 50), atol=0.06)
    top = [project(to_whole, x, y) for x, y in ((0, 0), (500, 0), (500, 190), (0, 190))]
    assert np.allclose(ev["visible_in_original"], [min(p[0] for p in top), min(p[1] for p in top),
                                                   max(p[0] for p in top), max(p[1] for p in top)], atol=0.01)
    quad_area = 0.5 * abs(sum(quad[i][0] * quad[(i + 1) % 4][1] - quad[(i + 1) % 4][0] * quad[i][1] for i in range(4)))
    assert ev["visible_share"] == pytest.approx(0.5 * quad_area / (900 * 1200), abs=1e-4)
    assert ev["edits"] == ["cropped"] and ev["inliers"] == 30
    assert ev["part"]["quad"] == quad and ev["part"]["method"] == "screen"
    assert ev["part"]["quad_in_query"] == evidence["quad_in_query"]


def _linked_through_a_screen_part(led: Ledger, archive, photographed: str, later: str, method: str):
    """Scans archive/a, whose `photographed` screen gets one part of `method` with its corners, then
    archive/b, whose `later` file links to that photo, through the part: (the photo's item, its
    part, the later file's item)."""
    scan(led, archive / "a")
    photo_id = _item_id(led, archive / "a" / photographed)
    (part,) = led.parts_of(photo_id)
    assert part.method == method and len(json.loads(part.quad)) == 4
    scan(led, archive / "b")
    later_id = _item_id(led, archive / "b" / later)
    (link,) = led.links([later_id])
    assert (link.earlier_item_id, link.later_item_id, link.method) == (photo_id, later_id, "orb")
    ev = json.loads(link.evidence_json)
    assert ev["part"]["item_id"] == part.item_id and ev["part"]["method"] == method
    return photo_id, part, later_id


def _assert_unlinked_without_screen_parts(db, archive) -> None:
    """The scans of _linked_through_a_screen_part, without screen parts: nothing is linked."""
    with pytest.MonkeyPatch.context() as no_screen_parts:
        no_screen_parts.setattr(parts, "_page_picture", lambda seen: None)
        no_screen_parts.setattr(parts, "_whole_screen", lambda seen: None)
        with Ledger(db) as led:
            scan(led, archive / "a")
            scan(led, archive / "b")
            assert led.counts()["links"] == 0


def test_a_screenshot_of_a_post_links_the_photographed_post_scanned_before_it(tmp_path, db_url):
    """The archive's phone photo of a post, scanned first, gets a part from its screen; the
    screenshot of another post of the same picture (another theme) scanned after it links to it
    through that part. Without screen parts it links to nothing."""
    archive = tmp_path / "archive"
    save(_photographed_post("chelsea")[0], archive / "a" / "photographed.jpg")
    save(_phone_post(photo("chelsea"), *DARK)[0], archive / "b" / "screenshot.jpg", quality=80)
    save(photo("rocket"), archive / "a" / "rocket.jpg")
    with Ledger(db_url) as led:
        photographed, part, shot = _linked_through_a_screen_part(led, archive, "photographed.jpg", "screenshot.jpg",
                                                                 "screen")
        # a check says so, and its picture outlines the post's picture in the photo by its corners
        from provenance.cli import _evidence_text
        from provenance.visual import _caption, draw_match

        matches = Checker(led).check_path(str(archive / "b" / "screenshot.jpg")).matches
        assert {m.item_id for m in matches} == {shot, photographed}  # its own bytes, and the photographed post
        found = next(m for m in matches if m.item_id == photographed)
        assert found.evidence["part"]["quad"] == json.loads(part.quad)
        assert "on its photographed screen" in _caption(found)
        assert f"in the post on the screen photographed in it, part {part.item_id}" in _evidence_text(found.method, found.distance, found.evidence)
        with Image.open(draw_match(archive / "b" / "screenshot.jpg", found, tmp_path / "why.png")) as picture:
            drawn = picture.convert("RGB")
        with Image.open(archive / "a" / "photographed.jpg") as taken:
            photo_size = taken.size
        header = drawn.height - 720  # the titles and the caption, in as many lines as it takes
        scale = 720 / photo_size[1]
        ox = drawn.width - round(photo_size[0] * scale)  # the original's panel is on the right
        (x0, y0), (x1, y1) = json.loads(part.quad)[:2]  # the picture's top edge, in the photo
        edge = [drawn.getpixel((ox + round(x * scale), header + round(y * scale)))
                for x, y in zip(np.linspace(x0, x1, 14)[2:-2], np.linspace(y0, y1, 14)[2:-2])]
        assert sum(1 for r, g, b in edge if b > 200 and r < 100) >= 7, edge
    _assert_unlinked_without_screen_parts(tmp_path / "without.db", archive)


def test_reindex_gives_a_ledger_from_before_screen_parts_its_photographed_posts_parts(tmp_path, monkeypatch):
    """The upgrade the build before made: a ledger whose images were searched by the framed finder alone
    (it records "framed-1", or nothing) is outdated; reindex cuts its photographed post's part, and
    a screenshot of another post of the picture then finds that photo."""
    from provenance.reindex import has_outdated, reindex

    archive = tmp_path / "archive"
    save(_photographed_post("chelsea")[0], archive / "photographed.jpg")
    save(photo("rocket"), archive / "rocket.jpg")
    save(_phone_post(photo("chelsea"), *DARK)[0], tmp_path / "screenshot.jpg", quality=80)
    with monkeypatch.context() as before:
        before.delitem(parts.METHODS, "screen")
        before.delitem(parts.METHODS, "screen_whole")
        before.setattr(parts, "_page_picture", lambda seen: None)
        before.setattr(parts, "_whole_screen", lambda seen: None)
        with Ledger(tmp_path / "l.db") as led:
            assert led.parts_finder() == "framed-1"
            scan(led, archive)
    with Ledger(tmp_path / "l.db") as led:
        assert has_outdated(led) and led.counts()["parts"] == 0
        assert Checker(led).check_path(str(tmp_path / "screenshot.jpg")).matches == []
        summary = reindex(led)
        assert summary.parts_added == 1 and summary.unreadable == [] and not has_outdated(led)
        assert led.parts_finder() == parts.finder()
        (found,) = Checker(led).check_path(str(tmp_path / "screenshot.jpg")).matches
        assert found.evidence["part"]["method"] == "screen"


def test_a_photograph_scanned_after_a_photo_of_its_screen_links_to_it_through_the_screen(tmp_path, db_url):
    """A phone photo of a monitor showing a photograph is scanned first; the photograph, scanned
    after it, is found in the straightened screen (a part "screen_whole"), which the photo alone
    does not show well enough: without screen parts the two stay unlinked."""
    from provenance.cli import _evidence_text
    from provenance.visual import _caption

    from .test_screen import KEYSTONE, photographed_screen

    archive = tmp_path / "archive"
    save(photographed_screen(photo("rocket"), KEYSTONE, wall=120.0, seed=2)[0], archive / "a" / "monitor.jpg")
    save(photo("rocket").resize((300, 200)), archive / "b" / "original.jpg")
    with Ledger(db_url) as led:
        monitor, part, _ = _linked_through_a_screen_part(led, archive, "monitor.jpg", "original.jpg", "screen_whole")
        found = next(m for m in Checker(led).check_path(str(archive / "b" / "original.jpg")).matches
                     if m.item_id == monitor)
        assert f"(on the screen photographed in it, part {part.item_id}" in _evidence_text(found.method, found.distance,
                                                                                            found.evidence)
        assert "on its photographed screen (blue)" in _caption(found) and "in the post" not in _caption(found)
        part_id = part.item_id
    from typer.testing import CliRunner

    from provenance.cli import app

    of_part = CliRunner().invoke(app, ["history", str(part_id), "--db", str(db_url)])
    assert of_part.exit_code == 0 and f"the picture on the screen photographed in item {monitor}" in of_part.stderr
    _assert_unlinked_without_screen_parts(tmp_path / "without.db", archive)


def test_reindex_after_whole_screens_keeps_the_posts_screen_parts_and_cuts_the_monitors(tmp_path, monkeypatch):
    """The upgrade from the finder before "screen_whole" (framed-1,screen-1): reindex searches
    every image again, cuts the photographed monitor's screen, and keeps the photographed post's
    part as it was (the same cut, still current: not cut twice)."""
    from provenance.reindex import has_outdated, reindex

    from .test_screen import KEYSTONE, photographed_screen

    archive = tmp_path / "archive"
    save(_photographed_post("chelsea")[0], archive / "photographed.jpg")
    save(photographed_screen(photo("rocket"), KEYSTONE, wall=120.0, seed=2)[0], archive / "monitor.jpg")
    with monkeypatch.context() as before:
        before.delitem(parts.METHODS, "screen_whole")
        before.setattr(parts, "_whole_screen", lambda seen: None)
        with Ledger(tmp_path / "l.db") as led:
            assert led.parts_finder() == "framed-1,screen-1"
            scan(led, archive)
            (cut,) = [p for item in range(1, 10) for p in led.parts_of(item)]
            assert cut.method == "screen"
            post_part = (cut.item_id, cut.whole_item_id, cut.quad)
    with Ledger(tmp_path / "l.db") as led:
        assert has_outdated(led)
        summary = reindex(led)
        assert summary.parts_added == 1 and summary.unreadable == [] and not has_outdated(led)
        monitor = _item_id(led, archive / "monitor.jpg")
        (whole,) = led.parts_of(monitor)
        assert whole.method == "screen_whole"
        assert [(p.item_id, p.whole_item_id, p.quad) for p in led.parts_of(post_part[1])] == [post_part]
        assert led.counts()["parts"] == 2
        assert reindex(led).parts_added == 0


def test_a_search_for_parts_alone_leaves_out_the_images_own_local_features(posts_archive):
    """reindex searching a current image for its parts reads it without describing it again (its
    local features cost most of a fingerprint): the same part, cut from the same decode."""
    from provenance.prints import fingerprint_file

    path = str(posts_archive / "post.jpg")
    full = fingerprint_file(path, keep_image=False).prints
    alone = fingerprint_file(path, keep_image=False, local=False).prints
    assert full.local_blob is not None and alone.local_blob is None
    assert [(p.box, p.prints.sha256) for p in alone.parts] == [(p.box, p.prints.sha256) for p in full.parts]
    assert len(alone.parts) == 1 and alone.parts[0].prints.local_blob is not None
    assert alone.sha256 == full.sha256 and alone.get("pdq") == full.get("pdq")


def test_a_match_on_another_finders_part_leaves_its_place_empty():
    """Folding keeps one entry per match, None for one on a part another finder cut, so a caller
    pairing matches with facts of its own (PDQ's "alone", a track sample's moment) keeps its pairs."""
    retired = PartRecord(item_id=9, whole_item_id=3, x0=0, y0=0, x1=10, y1=10, method="framed", version="0")
    hits = [Match(9, "pdq", 20.0, {}), Match(7, "pdq", 25.0, {})]
    folded = parts.fold_parts(hits, {9: retired}, {3: (100, 100), 9: (10, 10)})
    assert folded[0] is None and folded[1].item_id == 7 and len(folded) == 2
