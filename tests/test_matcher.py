"""matcher.py: precomputed query features (a scan's workers) give the very matches of extracting them;
evidence is in the query file's pixels whatever size the matcher worked at."""

import copy
import io

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from provenance import Ledger, index_files, local_features
from provenance.fingerprints import PDQ
from provenance.fingerprints.pdq import pdq_dihedral
from provenance.index import HashIndex
from provenance.matcher import PART_HASH_RADIUS, Matcher, near_by_hash
from provenance.media import hash_picture
from provenance.prints import fingerprint_file

from .conftest import jpeg_bytes, photo, save


def test_precomputed_query_features_give_the_same_matches(tmp_path):
    originals = [save(photo(name), tmp_path / f"{name}.jpg") for name in ("astronaut", "coffee", "chelsea")]
    crop = photo("astronaut").crop((60, 40, 460, 400))
    queries = [save(crop, tmp_path / "q" / "crop.jpg"),
               save(ImageOps.mirror(photo("chelsea").crop((0, 0, 400, 300))), tmp_path / "q" / "mirror.jpg")]
    with Ledger(tmp_path / "ledger.db") as ledger:
        index_files(ledger, originals)
        matcher = Matcher(ledger)
        for path in queries:
            prints = fingerprint_file(str(path)).prints
            assert prints.query is not None
            bare = copy.copy(prints)
            bare.query = None
            image = prints.decoded.image
            precomputed = matcher.match(prints, image=image)
            extracted = matcher.match(bare, image=image)
            assert precomputed, path
            assert [(m.item_id, m.method, m.distance, m.evidence) for m in precomputed] == \
                   [(m.item_id, m.method, m.distance, m.evidence) for m in extracted]


def test_evidence_is_in_the_query_files_pixels(tmp_path):
    """A 1,500-px query is matched on its 1,024-px working copy; its evidence (quadrilateral,
    scale, correspondences) is in the file's pixels, upright and mirrored, precomputed or not."""
    original = save(photo("astronaut"), tmp_path / "astronaut.jpg")  # 512 x 512
    enlarged = photo("astronaut").crop((100, 100, 400, 400)).resize((1500, 1500))  # x5
    with Ledger(tmp_path / "ledger.db") as ledger:
        index_files(ledger, [original])
        matcher = Matcher(ledger)
        for mirrored in (False, True):
            query = save(ImageOps.mirror(enlarged) if mirrored else enlarged, tmp_path / f"q{mirrored}.jpg")
            prints = fingerprint_file(str(query)).prints
            assert prints.decoded.image.width == 1024
            bare = copy.copy(prints)
            bare.query = None
            for p in (prints, bare):
                (m,) = [m for m in matcher.match(p, image=prints.decoded.image) if m.method == "orb"]
                ev = m.evidence
                expected = [[-500, -500], [2060, -500], [2060, 2060], [-500, 2060]]
                if mirrored:
                    expected = [[1500 - x, y] for x, y in expected]
                assert max(abs(a - b) for q, e in zip(ev["quad_in_query"], expected) for a, b in zip(q, e)) < 60  # extrapolated corners
                assert abs(ev["scale"] - 5.0) < 0.1 and "scaled" in ev["edits"]
                for (ox, oy), (qx, qy) in ev["correspondences"]:
                    want_x = (ox - 100) * 5 if not mirrored else 1500 - (ox - 100) * 5
                    assert abs(qx - want_x) < 15 and abs(qy - (oy - 100) * 5) < 15


def test_verification_loads_each_candidate_once(tmp_path, monkeypatch):
    paths = [save(photo(name), tmp_path / f"{name}.jpg") for name in ("astronaut", "coffee")]
    with Ledger(tmp_path / "ledger.db") as ledger:
        index_files(ledger, paths)
        matcher = Matcher(ledger)
        calls = []
        real = ledger.local_features
        monkeypatch.setattr(ledger, "local_features", lambda *a: calls.append(a) or real(*a))
        item = ledger.item_by_sha(fingerprint_file(str(paths[0]), keep_image=False).prints.sha256)
        first = matcher.local.loader(item.id)
        assert matcher.local.loader(item.id) is first
        assert len(calls) == 1


def test_a_shortlist_is_fetched_in_one_query(tmp_path, monkeypatch):
    """prefetch loads every candidate of a shortlist at once; the loader then asks the ledger nothing."""
    names = ("astronaut", "coffee", "rocket")
    paths = [save(photo(name), tmp_path / f"{name}.jpg") for name in names]
    with Ledger(tmp_path / "ledger.db") as ledger:
        index_files(ledger, paths)
        matcher = Matcher(ledger)
        ids = [ledger.item_by_sha(fingerprint_file(str(p), keep_image=False).prints.sha256).id for p in paths]
        one, many = [], []
        real_one, real_many = ledger.local_features, ledger.local_features_of
        monkeypatch.setattr(ledger, "local_features", lambda *a: one.append(a) or real_one(*a))
        monkeypatch.setattr(ledger, "local_features_of", lambda *a: many.append(a) or real_many(*a))
        matcher.local.prefetch(ids + [10**9])  # an id with no row is skipped, not an error
        loaded = [matcher.local.loader(i) for i in ids]
        assert len(many) == 1 and one == []
        for item_id, features in zip(ids, loaded):
            blob = real_one(item_id, local_features.ALGORITHM, local_features.VERSION)
            assert features.to_bytes() == blob
        matcher.local.prefetch(ids)  # all in memory: no query at all
        assert len(many) == 1


def test_pdq_alone_stops_at_its_limit_when_local_features_are_put_off(tmp_path):
    """A hashes-only scan links on PDQ alone only as close as a full scan would without the local
    features' word (PDQ_ALONE_MAX); what lies beyond waits for the scan that completes the item."""
    from provenance.fingerprints import PDQ
    from provenance.matcher import PDQ_ALONE_MAX

    prints = fingerprint_file(str(save(photo("coffee"), tmp_path / "q.jpg")), hashes_only=True).prints
    value = int(prints.pdq_dihedral[0], 16)
    with Ledger(tmp_path / "l.db") as led:
        ids = {}
        for bits in (PDQ_ALONE_MAX, PDQ_ALONE_MAX + 4):  # a hash this many bits from the query's
            near = f"{value ^ ((1 << bits) - 1):064x}"
            ids[bits] = led.add_hash_item(PDQ.name, PDQ.version, near, 100)[0].id
        led.commit()
        matcher = Matcher(led, use_local=False)
        found = {m.item_id: m.distance for m in matcher.match(prints, local_later=True)}
        assert found == {ids[PDQ_ALONE_MAX]: PDQ_ALONE_MAX}
        everything = {m.item_id for m in matcher.match(prints)}  # no local stage at all: a keyframe's rule
        assert everything == set(ids.values())


def test_pdq_alone_matches_only_the_picture_as_published_or_mirrored(tmp_path):
    """Turned by 90 degrees or upside down, a PDQ hit needs the local features' word too: periodic
    patterns meet each other that way (benchmarks/scan_links.py linked two checkerboards)."""
    from provenance.fingerprints import PDQ

    with Ledger(tmp_path / "l.db") as led:
        index_files(led, [save(photo("astronaut"), tmp_path / "other.jpg")])  # the local stage runs
        prints = fingerprint_file(str(save(photo("coffee"), tmp_path / "q.jpg"))).prints
        # imported hashes (no local features to verify) equal to the query turned and mirrored
        turned = led.add_hash_item(PDQ.name, PDQ.version, prints.pdq_dihedral[1], 100)[0].id
        mirrored = led.add_hash_item(PDQ.name, PDQ.version, prints.pdq_dihedral[5], 100)[0].id
        led.commit()
        found = {m.item_id: m.evidence["transform"] for m in Matcher(led).match(prints, image=prints.decoded.image)}
        assert found == {mirrored: "mirrored"} and turned not in found


def _pdq_index(names: dict[int, str]) -> HashIndex:
    """A PDQ index of the named photographs, hashed as the part looks hash a query's part."""
    pdq = HashIndex(256)
    for item, name in names.items():
        pdq.add(item, pdq_dihedral(np.asarray(hash_picture(photo(name))))[0][0])
    return pdq


def test_a_part_of_a_query_is_proposed_by_its_global_hash_upright_or_mirrored():
    """A part of a query (a framed picture, a screen's) cropped a little, blurred, noisy and
    re-encoded lies beyond PDQ's match threshold of its original but within PART_HASH_RADIUS, and
    is proposed; its mirror image is proposed as mirrored; an item the local index does not hold,
    or a picture too flat to hash, is not."""
    pdq = _pdq_index({0: "astronaut", 1: "coffee", 2: "chelsea"})
    rng = np.random.default_rng(3)
    shown = photo("coffee").crop((10, 8, 592, 392)).filter(ImageFilter.GaussianBlur(2.5))
    shown = np.asarray(shown, dtype=np.float32) * 0.8 + 30 + rng.normal(0, 6, (384, 582, 3))
    shown = Image.open(io.BytesIO(jpeg_bytes(Image.fromarray(np.clip(shown, 0, 255).astype(np.uint8)), 40)))
    (upright,) = near_by_hash(pdq, shown, {0, 1, 2})
    assert (upright.item_id, upright.mirrored) == (1, False)
    assert PDQ.match_threshold < upright.distance <= PART_HASH_RADIUS
    (mirrored,) = near_by_hash(pdq, ImageOps.mirror(shown), {0, 1, 2})
    assert (mirrored.item_id, mirrored.mirrored) == (1, True) and abs(mirrored.distance - upright.distance) <= 2
    assert near_by_hash(pdq, shown, {0, 2}) == []
    assert near_by_hash(pdq, Image.new("RGB", (400, 300), (128, 128, 128)), {0, 1, 2}) == []


def test_the_sources_of_a_match_are_its_ancestors_in_the_chain(tmp_path, db_url):
    """A crop of a crop of a photograph, each claimed by another outlet a few days later: the
    chain hangs each under the one before it, and the matcher's sources of the last are the
    crop it came from, then the photograph (nearest first); the photograph has none. On every
    backend: the ledger reads the stored chain."""
    from provenance import Claim
    from provenance.manifest import parse_date

    def central_crop(image: Image.Image) -> Image.Image:  # 70% of each side
        w, h = image.size
        return image.crop((round(w * 0.15), round(h * 0.15), w - round(w * 0.15), h - round(h * 0.15)))

    coffee = photo("coffee")
    files = [save(coffee, tmp_path / "o.jpg", 95), save(central_crop(coffee), tmp_path / "c1.jpg"),
             save(central_crop(central_crop(coffee)), tmp_path / "c2.jpg")]
    with Ledger(db_url) as ledger:
        for path, (outlet, when) in zip(files, [("agency", "2016-01-01"), ("relay", "2016-01-03"),
                                                ("echo", "2016-01-06")]):
            index_files(ledger, [path], Claim(outlet, *parse_date(when)))
        ids = [ledger.item_by_sha(fingerprint_file(str(p), keep_image=False).prints.sha256).id for p in files]
        assert ledger.parent_items(ids) == {ids[1]: {ids[0]}, ids[2]: {ids[1]}}
        assert Matcher(ledger)._sources_of(ids) == {ids[1]: [ids[0]], ids[2]: [ids[1], ids[0]]}
