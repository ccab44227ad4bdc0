"""Chains on archives whose true history is known: who published first, who copied from whom.

The archive is made in code from scikit-image's photographs and scanned with the real matcher,
so the evidence the chain reads is the evidence a real scan records. Each work below stands for
one story an investigator meets:

- coffee: crops of crops (agency -> relay crops it -> echo crops the crop);
- chelsea: re-posts of re-posts (agency -> relay adds a logo -> echo shrinks relay's copy; mirror
  re-posts relay's very file);
- rocket: two outlets claim the same first day;
- astronaut: the camera's EXIF time is after the claimed publication;
- immunohistochemistry: a crop dated before the picture it was cut from.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from provenance import Claim, Ledger, index_files, reject_link, scan, split_work
from provenance.arborescence import max_arborescence
from provenance.chain import item_chain, work_chain
from provenance.review import find_link
from provenance.works import work_of_item

from .conftest import photo, save


def central_crop(img: Image.Image, share_of_side: float) -> Image.Image:
    w, h = img.size
    dx, dy = round(w * (1 - share_of_side) / 2), round(h * (1 - share_of_side) / 2)
    return img.crop((dx, dy, w - dx, h - dy))


def with_logo(img: Image.Image) -> Image.Image:
    out = img.copy()
    ImageDraw.Draw(out).rectangle((10, 10, 120, 50), fill=(200, 30, 30))
    return out


def exif_jpeg(img: Image.Image, path: Path, taken: str) -> Path:
    exif = Image.Exif()
    exif[0x0132] = taken  # DateTime, read when DateTimeOriginal is absent
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=90, exif=exif)
    return path


def make_archive(root: Path) -> Path:
    """The archive described in the module docstring; returns its manifest."""
    coffee = photo("coffee")
    crop1 = central_crop(coffee, 0.7)
    save(coffee, root / "coffee" / "original.jpg", 95)
    save(crop1, root / "coffee" / "crop1.jpg")
    save(central_crop(crop1, 0.7), root / "coffee" / "crop2.jpg")
    cat = photo("chelsea")
    save(cat, root / "chelsea" / "a.jpg", 95)
    save(with_logo(cat), root / "chelsea" / "b_logo.jpg", 80)
    save(with_logo(cat).resize((300, 200)), root / "chelsea" / "c_small.jpg", 70)
    shutil.copy(root / "chelsea" / "b_logo.jpg", root / "chelsea" / "b_again.jpg")
    rocket = photo("rocket", 0.7)
    save(rocket, root / "rocket" / "r1.jpg", 92)
    save(rocket, root / "rocket" / "r2.jpg", 75)
    astro = photo("astronaut", 0.8)
    exif_jpeg(astro, root / "astro" / "camera.jpg", "2016:04:20 10:00:00")
    save(astro.resize((300, 300)), root / "astro" / "repost.jpg", 80)
    ihc = photo("immunohistochemistry")
    save(ihc, root / "ihc" / "full.jpg", 92)
    save(central_crop(ihc, 0.6), root / "ihc" / "crop.jpg", 90)
    rows = [
        "path,outlet,published_at,url",
        "coffee/original.jpg,agency,2016-01-01T09:00:00Z,https://agency.example/1",
        "coffee/crop1.jpg,relay,2016-01-03,https://relay.example/1",
        "coffee/crop2.jpg,echo,2016-01-06,https://echo.example/1",
        "chelsea/a.jpg,agency,2016-02-01T08:00:00Z,https://agency.example/2",
        "chelsea/b_logo.jpg,relay,2016-02-02,https://relay.example/2",
        "chelsea/b_again.jpg,mirror,2016-02-03,https://mirror.example/2",
        "chelsea/c_small.jpg,echo,2016-02-04,https://echo.example/2",
        "rocket/r1.jpg,alpha,2016-03-01,https://alpha.example/3",
        "rocket/r2.jpg,beta,2016-03-01T12:00:00Z,https://beta.example/3",
        "astro/camera.jpg,gamma,2016-04-01,https://gamma.example/4",
        "astro/repost.jpg,delta,2016-04-25,https://delta.example/4",
        "ihc/full.jpg,wire,2016-05-10,https://wire.example/5",
        "ihc/crop.jpg,early,2016-05-01,https://early.example/5",
    ]
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """The archive, scanned once; tests that change the ledger work on a copy (``ledger_copy``)."""
    base = tmp_path_factory.mktemp("chain")
    manifest = make_archive(base / "arch")
    with Ledger(base / "l.db") as led, open(base / "report.jsonl", "w") as fh:
        summary = scan(led, base / "arch", manifest=manifest, report=fh)
    assert summary.failed == 0 and summary.new_items == 12  # b_again is b_logo's bytes
    rows = [json.loads(line) for line in (base / "report.jsonl").read_text().splitlines()]
    return base, rows


@pytest.fixture
def ledger_copy(scanned, tmp_path):
    base, _ = scanned
    for f in base.iterdir():
        if f.name.startswith("l.db"):
            shutil.copy(f, tmp_path / f.name)
    with Ledger(tmp_path / "l.db") as led:
        yield led


def item_at(led: Ledger, base: Path, rel: str) -> int:
    views = [v for v in led.sightings(range(1, 100)) if v.path == os.path.normpath(base / "arch" / rel)]
    return views[0].item_id


def tree(chain) -> dict[str, str | None]:
    """{outlet: parent outlet} for a work whose outlets each appear once."""
    by_id = {n.sighting_id: n for n in chain.nodes}
    return {n.outlet: by_id[n.parent_sighting_id].outlet if n.parent_sighting_id else None for n in chain.nodes}


def test_crops_of_crops(scanned):
    base, _ = scanned
    with Ledger(base / "l.db", readonly=True) as led:
        chain = item_chain(led, item_at(led, base, "coffee/crop2.jpg"))
        assert tree(chain) == {"agency": None, "relay": "agency", "echo": "relay"}
        echo = next(n for n in chain.nodes if n.outlet == "echo")
        assert echo.basis == "crop" and "a crop of item" in echo.reason and echo.confidence == "strong"
        fs = chain.first_seen
        assert (fs.outlet, fs.source, fs.basis, fs.date.isoformat()) == ("agency", "claimed", "manifest",
                                                                        "2016-01-01T09:00:00+00:00")
        assert chain.flags == []


def test_crops_of_crops_indexed_in_reverse_order(tmp_path):
    """Indexed smallest first, the matcher only says "contains the earlier whole, with more around
    it"; the picture going on across the outline (surround.py) says the earlier is a crop."""
    coffee = photo("coffee")
    crop1 = central_crop(coffee, 0.7)
    files = [save(central_crop(crop1, 0.7), tmp_path / "c2.jpg"), save(crop1, tmp_path / "c1.jpg"),
             save(coffee, tmp_path / "o.jpg", 95)]
    claims = [("echo", "2016-01-06"), ("relay", "2016-01-03"), ("agency", "2016-01-01")]
    with Ledger(tmp_path / "l.db") as led:
        from provenance.manifest import parse_date

        for path, (outlet, when) in zip(files, claims):
            index_files(led, [path], Claim(outlet, *parse_date(when)))
        chain = item_chain(led, 1)
        assert tree(chain) == {"agency": None, "relay": "agency", "echo": "relay"}
        relay = next(n for n in chain.nodes if n.outlet == "relay")
        assert relay.basis == "crop" and "goes on around it" in relay.reason
        assert chain.flags == []


def test_frame_or_crop_undecided_leaves_it_to_the_dates(tmp_path):
    """A dark caption bar under a picture whose lower edge is dark shows no border: undecided."""
    from provenance.manifest import parse_date

    hubble = photo("hubble_deep_field", 0.5)
    w, h = hubble.size
    captioned = Image.new("RGB", (w, h + 90), (20, 20, 20))
    captioned.paste(hubble, (0, 0))
    ImageDraw.Draw(captioned).text((10, h + 20), "BREAKING: something happened", fill="white", font_size=24)
    files = [save(hubble, tmp_path / "plain.jpg", 92), save(captioned, tmp_path / "captioned.jpg", 92)]
    with Ledger(tmp_path / "l.db") as led:
        for path, (outlet, when) in zip(files, [("later", "2016-01-09"), ("first", "2016-01-02")]):
            index_files(led, [path], Claim(outlet, *parse_date(when)))
        chain = item_chain(led, 1)
        assert tree(chain) == {"first": None, "later": "first"}
        later = next(n for n in chain.nodes if n.outlet == "later")
        assert later.basis == "containment" and later.confidence == "weak"
        assert "a crop of item" in later.reason and "frame, caption or banner" in later.reason


def test_a_copy_without_the_caption_is_not_a_crop_of_the_captioned_one(tmp_path):
    """A captioned copy and the plain picture, both re-posts of a source the ledger does not hold,
    the captioned one indexed first: the plain picture shows only part of the captioned copy, but
    what it leaves out is the caption (a border runs along the picture's edge there), so it is no
    crop of it. The chain reads the captioned copy as the plain picture with a caption added and
    hangs it there, with the dates (indexed only) as the weaker evidence the other way."""
    from provenance.chain_facts import load_facts

    chelsea = photo("chelsea")
    w, h = chelsea.size
    captioned = Image.new("RGB", (w, h + 90), (245, 245, 245))
    captioned.paste(chelsea, (0, 90))
    ImageDraw.Draw(captioned).text((10, 30), "BREAKING: something happened", fill=(20, 20, 20), font_size=24)
    with Ledger(tmp_path / "l.db") as led:
        index_files(led, [save(captioned, tmp_path / "captioned.jpg", 92)], Claim("banner"))
        index_files(led, [save(chelsea, tmp_path / "plain.jpg", 92)], Claim("plain"))
        (link,) = load_facts(led, [1, 2]).links
        assert (link.earlier, link.later, link.cut_away, link.surround) == (1, 2, "frame", None)
        # judged once a ledger session: remembered by the link's id and the time it was written
        assert led.surround_judgements[link.id, link.found_at] == (None, "frame")
        chain = item_chain(led, 1)
        assert tree(chain) == {"plain": None, "banner": "plain"}
        banner = next(n for n in chain.nodes if n.outlet == "banner")
        assert banner.basis == "frame" and "a crop of" not in banner.reason
        assert "item 1 is item 2 with a frame, caption or screenshot around it" in banner.reason


@pytest.mark.parametrize("gutter", [0, 8])
def test_a_picture_is_not_a_crop_of_the_collage_it_is_part_of(tmp_path, gutter):
    """A collage of two pictures indexed first, then a copy of one of them: the copy shows half of
    the collage, but a straight seam parts that half from the other picture (with a gutter or
    without), so it is no crop of the collage; the chain reads the collage as the picture joined to
    another and hangs it under the copy."""
    from provenance.chain_facts import load_facts

    chelsea, rocket = photo("chelsea"), photo("rocket").resize(photo("chelsea").size)
    w, h = chelsea.size
    collage = Image.new("RGB", (2 * w + gutter, h), (255, 255, 255))
    collage.paste(rocket, (0, 0))
    collage.paste(chelsea, (w + gutter, 0))
    with Ledger(tmp_path / "l.db") as led:
        index_files(led, [save(collage, tmp_path / "collage.jpg", 92)], Claim("collage"))
        index_files(led, [save(chelsea, tmp_path / "plain.jpg", 92)], Claim("plain"))
        (link,) = load_facts(led, [1, 2]).links
        # edge to edge, a border already runs along the picture (surround's gradient test)
        assert (link.earlier, link.later, link.cut_away) == (1, 2, "frame" if gutter == 0 else "seam")
        chain = item_chain(led, 1)
        assert tree(chain) == {"plain": None, "collage": "plain"}
        joined = next(n for n in chain.nodes if n.outlet == "collage")
        assert joined.basis == "frame" and "a crop of" not in joined.reason
        if gutter:
            assert "item 1 is item 2 joined to more along straight seams (a collage" in joined.reason


@pytest.mark.parametrize("gutter", [0, 8])
def test_a_collage_indexed_after_its_picture_is_not_what_the_picture_was_cut_from(tmp_path, gutter):
    """The picture first, then a collage holding it: the collage frames it (surround's border, or
    the seam along it), and the picture hangs at the top."""
    from provenance.chain_facts import load_facts

    chelsea, rocket = photo("chelsea"), photo("rocket").resize(photo("chelsea").size)
    w, h = chelsea.size
    collage = Image.new("RGB", (w, 2 * h + gutter), (0, 0, 0))
    collage.paste(chelsea, (0, 0))
    collage.paste(rocket, (0, h + gutter))
    with Ledger(tmp_path / "l.db") as led:
        index_files(led, [save(chelsea, tmp_path / "plain.jpg", 92)], Claim("plain"))
        index_files(led, [save(collage, tmp_path / "collage.jpg", 92)], Claim("collage"))
        (link,) = load_facts(led, [1, 2]).links
        assert (link.earlier, link.later) == (1, 2) and link.surround in ("frame", "seam")
        assert tree(item_chain(led, 1)) == {"plain": None, "collage": "plain"}


def test_a_copy_hangs_under_the_picture_it_shows_whole_rather_than_one_it_shows_part_of():
    """An original, a copy of it in bars, and a phone photo of a screen showing the original: the
    photo shows all of the original inside a frame (one edit: the screen around it), and 76% of
    the barred copy inside a frame (two: the bars cut away and the screen around; here the bars
    went unseen, as thin ones do in the template). It hangs under the original and names the
    barred copy beside it, however much of that copy it shows."""
    from datetime import datetime, timedelta, timezone

    from provenance.chain import infer_chain
    from provenance.chain_facts import ItemFacts, LinkFacts, SightingFacts, WorkFacts

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    sizes = {1: (640, 640), 2: (640, 900), 3: (800, 760)}
    items = {i: ItemFacts(i, "image", "JPEG", w, h, 100_000, None, start + timedelta(hours=i))
             for i, (w, h) in sizes.items()}
    names = {1: "agency", 2: "barred", 3: "photographed"}
    sightings = [SightingFacts(i, i, i, names[i], None, f"/{names[i]}.jpg", None, None, None, start + timedelta(hours=i))
                 for i in items]

    def orb(edits: list[str], share: float) -> dict:
        return {"edits": edits, "visible_share": share, "ncc_blocks": 0.95, "inliers": 80}

    links = [LinkFacts(1, 1, 2, "orb", 80.0, "accepted", orb(["framed"], 1.0), surround="frame"),
             LinkFacts(2, 1, 3, "orb", 80.0, "accepted", orb(["framed", "perspective"], 1.0), surround="frame"),
             LinkFacts(3, 2, 3, "orb", 80.0, "accepted", orb(["cropped", "framed", "perspective"], 0.76))]
    chain = infer_chain(WorkFacts(items, sightings, links), 1)
    assert tree(chain) == {"agency": None, "barred": "agency", "photographed": "agency"}
    photographed = next(n for n in chain.nodes if n.outlet == "photographed")
    assert "item 1 with a frame" in photographed.reason
    assert [a.outlet for a in photographed.alternatives] == ["barred"]


def test_reposts_of_reposts_and_the_same_file(scanned):
    base, _ = scanned
    with Ledger(base / "l.db", readonly=True) as led:
        chain = item_chain(led, item_at(led, base, "chelsea/a.jpg"))
        assert tree(chain) == {"agency": None, "relay": "agency", "mirror": "relay", "echo": "relay"}
        by_outlet = {n.outlet: n for n in chain.nodes}
        assert by_outlet["mirror"].basis == "same_file" and by_outlet["mirror"].confidence == "strong"
        assert "lower resolution" in by_outlet["echo"].reason
        assert "agency" in [a.outlet for a in by_outlet["echo"].alternatives]
        assert chain.first_seen.outlet == "agency"


def test_two_outlets_claiming_the_same_first_day(scanned):
    base, _ = scanned
    with Ledger(base / "l.db", readonly=True) as led:
        chain = item_chain(led, item_at(led, base, "rocket/r1.jpg"))
        assert chain.first_seen.outlet == "alpha" and chain.first_seen.tied_with == ("beta",)
        assert [f.kind for f in chain.flags] == ["tied_first"]


def test_exif_capture_after_the_claimed_publication(scanned):
    base, _ = scanned
    with Ledger(base / "l.db", readonly=True) as led:
        chain = item_chain(led, item_at(led, base, "astro/camera.jpg"))
        assert [f.kind for f in chain.flags] == ["exif_after_claimed"]
        gamma = next(n for n in chain.nodes if n.outlet == "gamma")
        claim = next(d for d in gamma.dates if d.kind == "claimed")
        exif = next(d for d in gamma.dates if d.kind == "exif_capture")
        assert not claim.credible and "EXIF" in claim.doubt and exif.at.day == 20
        # the first-seen date rests on the next credible claim, and says what it set aside
        fs = chain.first_seen
        assert (fs.outlet, fs.date.day, fs.source) == ("delta", 25, "claimed")
        assert [a["outlet"] for a in fs.set_aside] == ["gamma"]
        assert tree(chain) == {"gamma": None, "delta": "gamma"}  # the camera original is still the source


def test_crop_dated_before_its_source(scanned):
    base, _ = scanned
    with Ledger(base / "l.db", readonly=True) as led:
        chain = item_chain(led, item_at(led, base, "ihc/crop.jpg"))
        assert tree(chain) == {"wire": None, "early": "wire"}  # a crop cannot be the source of the whole
        assert [f.kind for f in chain.flags] == ["dated_before_source"]
        fs = chain.first_seen
        assert fs.outlet == "wire" and [a["outlet"] for a in fs.set_aside] == ["early"]


def test_scan_report_lists_new_works_then_new_sightings_and_changes(scanned, tmp_path):
    base, rows = scanned
    new_works = [r for r in rows if r["type"] == "new_work"]
    assert len(new_works) == 5 and {r["first_seen"]["outlet"] for r in new_works} == {"agency", "alpha", "delta", "wire"}
    arch = tmp_path / "arch"
    shutil.copytree(base / "arch", arch)
    for f in base.iterdir():
        if f.name.startswith("l.db"):
            shutil.copy(f, tmp_path / f.name)
    # a new copy of relay's logo picture, and an earlier claim for the coffee original by a new outlet
    save(with_logo(photo("chelsea")).resize((240, 160)), arch / "chelsea" / "d_late.jpg", 60)
    manifest = arch / "manifest.csv"
    text = manifest.read_text().replace(str(base / "arch"), str(arch))
    text += "chelsea/d_late.jpg,late,2016-02-20,https://late.example/2\n"
    text += "coffee/original.jpg,wire,2015-12-30,https://wire.example/0\n"
    manifest.write_text(text)
    with Ledger(tmp_path / "l.db") as led, open(tmp_path / "r.jsonl", "w") as fh:
        scan(led, arch, manifest=manifest, report=fh)
    later = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    kinds = [(r["type"], r.get("change"), r.get("outlet")) for r in later if r["type"] != "republication"]
    assert ("new_sighting", None, "late") in kinds and ("new_sighting", None, "wire") in kinds
    assert ("chain_change", "first_seen", None) in kinds
    late = next(r for r in later if r["type"] == "new_sighting" and r["outlet"] == "late")
    assert late["parent"]["outlet"] in ("relay", "mirror", "echo")
    assert not [r for r in later if r["type"] == "new_work"]


def test_a_bridging_picture_merges_two_works(tmp_path):
    cam = photo("camera")
    w, h = cam.size
    left, right = cam.crop((0, 0, round(w * 0.45), h)), cam.crop((round(w * 0.55), 0, w, h))
    arch = tmp_path / "arch"
    save(left, arch / "left.jpg")
    save(right, arch / "right.jpg")
    (arch / "m.csv").write_text("path,outlet,published_at,url\nleft.jpg,lefty,2016-06-03,\nright.jpg,righty,2016-06-04,\n"
                                "full.jpg,source,2016-06-01,\n")
    with Ledger(tmp_path / "l.db") as led:
        scan(led, arch, manifest=arch / "m.csv")
        assert len(led.live_work_ids()) == 2
        save(cam, arch / "full.jpg", 95)
        with open(tmp_path / "r.jsonl", "w") as fh:
            scan(led, arch, manifest=arch / "m.csv", report=fh)
        assert len(led.live_work_ids()) == 1
        rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
        merged = [r for r in rows if r.get("change") == "merged"]
        assert len(merged) == 1 and merged[0]["work_id"] == 1 and merged[0]["merged_work_id"] == 2
        chain = work_chain(led, 2)  # the absorbed id leads to the merged work
        assert chain.work_id == 1
        assert tree(chain) == {"source": None, "lefty": "source", "righty": "source"}
        assert [e["kind"] for e in led.work_events([1])] == ["merged"]


def test_rejected_link_stays_rejected_across_rescans(scanned, ledger_copy, tmp_path):
    base, _ = scanned
    led = ledger_copy
    original, crop2 = item_at(led, base, "coffee/original.jpg"), item_at(led, base, "coffee/crop2.jpg")
    link = find_link(led, f"{original}:{crop2}")
    reject_link(led, link, by="analyst", note="checked by hand")
    work = work_of_item(led, original)
    assert work_of_item(led, crop2) == work  # still joined through crop1
    for f in (base / "arch").rglob("*.jpg"):  # every file looks changed: all are read again
        os.utime(f, (1_500_000_000, 1_500_000_000))
    try:
        scan(led, base / "arch", manifest=base / "arch" / "manifest.csv")
        row = next(ln for ln in led.links([crop2], include_rejected=True) if ln.id == link)
        assert (row.status, row.reviewed_by) == ("rejected", "analyst")
        assert led.link_between(original, crop2) == link
        split = split_work(led, work, [crop2], by="analyst", note="not the same scene")
        scan(led, base / "arch", manifest=base / "arch" / "manifest.csv")
        assert work_of_item(led, crop2) == split.new_work_ids[0] != work_of_item(led, original)
    finally:
        for f in (base / "arch").rglob("*.jpg"):
            os.utime(f, None)


# --- the tree algorithm ----------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n), st.integers(1, n), st.integers(-5, 5)), max_size=25))))
def test_arborescence_is_the_best_tree(case):
    n, extra = case
    nodes = list(range(1, n + 1))
    edges = [(0, i, -3) for i in nodes] + [(u, v, w) for u, v, w in extra if u != v]
    parent = max_arborescence(nodes, edges, 0)
    assert sorted(parent) == nodes
    for v in nodes:  # a tree: every node leads to the root
        seen, x = set(), v
        while x != 0:
            assert x not in seen
            seen.add(x)
            x = parent[x]
    weight = {}
    for u, v, w in edges:
        weight[(u, v)] = max(weight.get((u, v), -99), w)
    assert sum(weight[(parent[v], v)] for v in nodes) == _best_by_brute_force(nodes, weight)


def _best_by_brute_force(nodes, weight) -> int:
    from itertools import product

    best = None
    choices = [[u for (u, v) in weight if v == node] for node in nodes]
    for pick in product(*choices):
        parent = dict(zip(nodes, pick))
        ok = True
        for v in nodes:
            seen, x = set(), v
            while x != 0 and ok:
                ok = x not in seen
                seen.add(x)
                x = parent[x]
        if ok:
            total = sum(weight[(parent[v], v)] for v in nodes)
            best = total if best is None else max(best, total)
    return best
