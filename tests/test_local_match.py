"""Local matching: re-publications are found with the right geometry, look-alikes are not."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont, ImageOps

from provenance import local_features, local_match
from provenance.local_features import LocalFeatures, extract
from provenance.local_index import LocalFeatureIndex
from provenance.local_match import LocalMatch, search, verify
from provenance.matcher import near_by_hash
from provenance.media import QUERY_WORKING_SIDE, WORKING_SIDE, decode_image
from provenance.prints import fingerprint_image

from .conftest import SMALL_COPY_BOX, cloudy_sky, jpeg_bytes, photo, small_copy_of_a_crop

INDEXED = ("astronaut", "coffee", "chelsea", "camera")
LOGO_ITEM, BANNER_ITEM = 100, 101


def _with_logo(image: Image.Image) -> Image.Image:
    """The same outlet logo (a red plate with white lettering) in the top-left corner."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    width = int(image.width * 0.16)
    height = width // 3
    draw.rounded_rectangle((12, 12, 12 + width, 12 + height), radius=height // 4, fill=(200, 20, 30))
    draw.text((12 + height // 4, 12 + height // 6), "NEWS24", fill="white",
              font=ImageFont.load_default(size=int(height * 0.6)))
    return out


def _with_banner(image: Image.Image) -> Image.Image:
    """The same caption banner above the picture."""
    band = int(image.height * 0.2)
    out = Image.new("RGB", (image.width, image.height + band), (20, 20, 20))
    out.paste(image, (0, band))
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=int(band * 0.3))
    draw.text((12, band * 0.12), "BREAKING: officials confirm the report", fill="white", font=font)
    draw.text((12, band * 0.55), "Source: agency wire, 12 May", fill=(200, 200, 200), font=font)
    return out


@pytest.fixture(scope="module")
def library():
    """An index of a few photos plus a logo'd and a captioned photo; and its loader."""
    features = {i: extract(photo(name)) for i, name in enumerate(INDEXED)}
    features[LOGO_ITEM] = extract(_with_logo(photo("chelsea")))
    features[BANNER_ITEM] = extract(_with_banner(photo("chelsea")))
    blobs = {item: f.to_bytes() for item, f in features.items()}
    index = LocalFeatureIndex()
    for item, f in features.items():
        index.add(item, f)
    return index, lambda item: LocalFeatures.from_bytes(blobs[item])


def _found(query: Image.Image, library, item: int) -> LocalMatch:
    index, load = library
    matches = search(query, index, load)
    assert matches, "nothing matched"
    assert matches[0].item_id == item
    return matches[0]


def _corners(image: Image.Image) -> np.ndarray:
    return np.array([[0, 0], [image.width, 0], [image.width, image.height], [0, image.height]], float)


def _assert_quad(match: LocalMatch, expected: np.ndarray, tolerance: float) -> None:
    error = np.abs(np.array(match.quad_in_query) - expected).max()
    assert error <= tolerance, (match.quad_in_query, expected.tolist())


def test_crop_is_found_with_its_position(library):
    original = photo("astronaut")
    box = (150, 40, 150 + 300, 40 + 360)  # ~41 % of the area
    match = _found(original.crop(box), library, 0)
    _assert_quad(match, _corners(original) - box[:2], tolerance=4)
    x0, y0, x1, y1 = match.visible_in_original
    assert abs(x0 - box[0]) < 4 and abs(y0 - box[1]) < 4 and abs(x1 - box[2]) < 4 and abs(y1 - box[3]) < 4
    assert 0.38 < match.visible_share < 0.45
    assert "cropped" in match.edits and not match.mirrored and not match.second_look and match.look == "first"


def test_picture_framed_in_a_phone_screenshot(library):
    original = photo("coffee")
    canvas = Image.new("RGB", (1080, 2340), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=36)
    draw.rectangle((0, 0, 1080, 170), fill=(29, 161, 242))
    draw.ellipse((40, 220, 140, 320), fill=(120, 90, 200))
    for row, line in enumerate(["Some Account @someaccount", "Look at this morning's coffee,",
                                "best in town #coffee"]):
        draw.text((40 if row else 170, 240 + row * 60), line, fill=(20, 20, 20), font=font)
    width = 918
    pasted = original.resize((width, width * 400 // 600), Image.Resampling.LANCZOS)
    canvas.paste(pasted, (81, 460))
    for i, label in enumerate(["Reply", "Repost", "Like", "Share"]):
        draw.rounded_rectangle((60 + i * 250, 1140, 260 + i * 250, 1210), radius=20, outline=(20, 20, 20), width=3)
        draw.text((80 + i * 250, 1155), label, fill=(20, 20, 20), font=font)
    match = _found(canvas, library, 1)
    expected = _corners(original) * (width / 600) + [81, 460]
    _assert_quad(match, expected, tolerance=8)
    assert "framed" in match.edits and "scaled" in match.edits
    assert match.visible_share > 0.97


def test_mirrored_copy(library):
    original = photo("chelsea")
    match = _found(ImageOps.mirror(original), library, 2)
    w, h = original.size
    _assert_quad(match, np.array([[w, 0], [0, 0], [0, h], [w, h]], float), tolerance=4)
    assert match.mirrored and "mirrored" in match.edits
    assert abs(match.rotation_deg) < 1


def test_rotated_copy_with_corners_cropped(library):
    original = photo("astronaut")
    rotation = cv2.getRotationMatrix2D((256, 256), 5, 1.0)  # 5 degrees counter-clockwise
    rotated = cv2.warpAffine(np.asarray(original), rotation, (512, 512), flags=cv2.INTER_CUBIC)
    query = Image.fromarray(rotated[40:472, 40:472])
    match = _found(query, library, 0)
    expected = _corners(original) @ rotation[:, :2].T + rotation[:, 2] - 40
    _assert_quad(match, expected, tolerance=5)
    assert abs(match.rotation_deg - 5) < 0.7
    assert "rotated" in match.edits and "cropped" in match.edits


def test_phone_photo_of_a_screen(library):
    original = photo("coffee")
    w, h = original.size
    rng = np.random.default_rng(3)
    pad = 80
    screen = np.full((h + 2 * pad, w + 2 * pad, 3), 25, np.uint8)
    screen[pad:pad + h, pad:pad + w] = np.asarray(original)
    corners = (_corners(original) + pad).astype(np.float32)
    shot = corners + np.float32([[45, 30], [-35, 20], [-10, -10], [15, -5]])  # keystone, up to 7 %
    perspective = cv2.getPerspectiveTransform(corners, shot)
    taken = cv2.warpPerspective(screen, perspective, (screen.shape[1], screen.shape[0]), borderValue=(25, 25, 25))
    taken = cv2.GaussianBlur(taken, (0, 0), 1.2).astype(np.float32) * 0.9 + rng.normal(0, 5, taken.shape)
    match = _found(Image.fromarray(np.clip(taken, 0, 255).astype(np.uint8)), library, 1)
    _assert_quad(match, shot.astype(float), tolerance=6)
    assert "perspective" in match.edits


def test_grayscale_copy_is_labelled(library):
    match = _found(ImageOps.grayscale(photo("chelsea")).convert("RGB"), library, 2)
    assert "grayscale" in match.edits


def test_different_photo_is_not_matched(library):
    index, load = library
    for name in ("rocket", "hubble_deep_field", "immunohistochemistry"):
        assert search(photo(name), index, load) == [], name


@pytest.mark.parametrize("make", [
    lambda: Image.new("RGB", (800, 600), (128, 128, 128)),
    lambda: Image.fromarray(np.tile(np.linspace(0, 255, 800).astype(np.uint8), (600, 1))).convert("RGB"),
    lambda: Image.fromarray((((np.indices((600, 800)) // 40).sum(0) % 2) * 255).astype(np.uint8)).convert("RGB"),
    lambda: Image.fromarray((((np.indices((600, 800)) // 7).sum(0) % 2) * 255).astype(np.uint8)).convert("RGB"),
], ids=["flat", "gradient", "checkerboard", "fine-checkerboard"])
def test_degenerate_images_are_not_matched(library, make):
    index, load = library
    assert search(make(), index, load) == []


def test_photos_sharing_only_a_logo_do_not_match(library):
    index, load = library
    matches = search(_with_logo(photo("rocket")), index, load)  # chelsea + the logo is indexed
    assert matches == []


def test_photos_sharing_only_a_caption_banner_do_not_match(library):
    index, load = library
    matches = search(_with_banner(photo("rocket")), index, load)
    assert matches == []


def test_verify_agrees_with_search_and_evidence_is_json(library):
    index, load = library
    query = extract(photo("camera").crop((50, 50, 450, 450)), for_query=True, keep_working=True)
    match = verify(query, load(3), 3)
    assert match is not None and match.inliers >= 12
    evidence = match.to_evidence()
    assert json.loads(json.dumps(evidence)) == evidence
    assert len(evidence["correspondences"]) <= 50
    assert verify(query, load(0), 0) is None


def test_index_save_load_and_remove(library, tmp_path):
    index, _ = library
    query = extract(photo("coffee"), for_query=True)
    before = index.candidates(query, k=3)
    path = tmp_path / "local.npz"
    index.save(path)
    loaded = LocalFeatureIndex.load(path)
    assert len(loaded) == len(index)
    assert loaded.candidates(query, k=3) == before
    assert loaded.remove(1) and not loaded.remove(1)
    assert 1 not in loaded and len(loaded) == len(index) - 1
    assert all(item != 1 for item, _ in loaded.candidates(query, k=10))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    import io

    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def test_two_pages_on_one_template_do_not_verify(monkeypatch):
    """Two different generated web-page cards (same header bar, boxes, font) agree on their
    layout's edges; the inlier-ratio / detail rule rejects them."""
    import random

    from benchmarks.edits import scene
    from provenance import local_match

    query = _jpeg(scene(random.Random("tune-query:742"), (800, 600)), 92)
    other = _jpeg(scene(random.Random("tune-distractor:577"), (800, 600)), 85)
    q, c = extract(query, for_query=True, keep_working=True), extract(other)
    assert verify(q, c, 1) is None
    monkeypatch.setattr(local_match, "MIN_DETAIL_NCC", -2.0)  # the rule off: the layouts pass
    loose = verify(q, c, 1)
    assert loose is not None and loose.inlier_ratio < local_match.MIN_INLIER_RATIO
    assert loose.detail_ncc < 0.75


def test_crop_of_a_smooth_photo_verifies_with_its_detail():
    """Half of a soft-focus photo: few inliers, but the fine detail correlates."""
    from PIL import ImageFilter

    from provenance import local_match

    smooth = photo("chelsea").filter(ImageFilter.GaussianBlur(1.5))
    crop = _jpeg(smooth.crop((0, 0, smooth.width // 2, smooth.height)), 80)
    match = verify(extract(crop, for_query=True, keep_working=True), extract(smooth), 2)
    assert match is not None and "cropped" in match.edits
    assert match.detail_ncc >= local_match.MIN_DETAIL_NCC


def test_small_copy_of_a_crop_is_found(library):
    """A quarter of a large picture, then shrunk to 22% (144 px): at its own size it has too few
    corners to meet the original's; the second look, upscaled to the index's scale, finds it."""
    large, query = small_copy_of_a_crop()
    index = LocalFeatureIndex()
    features = {i: extract(photo(name)) for i, name in enumerate(INDEXED[1:], 1)}
    features[0] = extract(large)
    for item, f in features.items():
        index.add(item, f)
    assert search(query, index, features.__getitem__, second_look=False) == []
    match = _found(query, (index, features.__getitem__), 0)
    assert match.second_look and "cropped" in match.edits
    # where the crop lies in the original, within a tenth of its side (the query is 144 px)
    assert np.abs(np.array(match.visible_in_original) - SMALL_COPY_BOX).max() < 64


def _sky_library() -> tuple[Image.Image, LocalFeatureIndex, dict[int, LocalFeatures]]:
    """A portrait cloudy sky (item 9) indexed beside the library's photos; its features by item."""
    sky = cloudy_sky()
    features = {i: extract(photo(name)) for i, name in enumerate(INDEXED)}
    features[9] = extract(sky)
    index = LocalFeatureIndex()
    for item, f in features.items():
        index.add(item, f)
    return sky, index, features


def test_crop_of_a_cloudy_sky_is_found_at_the_scale_of_a_crop(monkeypatch):
    """Half of a portrait sky: at its own size its corners are the grain, and the second look at
    the index's scale is within 10% of that size, so skipped; the crop look, at the scale at which
    the index saw that half, finds it."""
    sky, index, features = _sky_library()
    query = sky.crop((0, 0, 721, 1082))
    monkeypatch.setattr(local_features, "QUERY_CROP_SIDE", 1082)  # as if no crop look
    assert search(query, index, features.__getitem__) == []
    monkeypatch.undo()
    match = _found(query, (index, features.__getitem__), 9)
    assert match.second_look and match.look == "crop" and "cropped" in match.edits
    assert np.abs(np.array(match.visible_in_original) - [0, 0, 721, 1082]).max() < 20


def desktop_page(picture: Image.Image, size=(3000, 2000), at=(1500, 500)) -> Image.Image:
    """A desktop screenshot of an article: a title bar, paragraphs, and the picture at `at` at its
    own size (a small part of a large page)."""
    page = Image.new("RGB", size, (246, 246, 246))
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=30)
    draw.rectangle((0, 0, size[0], 90), fill=(53, 54, 58))
    for row in range(25):
        draw.text((120, 150 + row * 70), "A paragraph of the article that runs on and on", fill=(30, 30, 30), font=font)
    page.paste(picture, at)
    return page


def test_picture_small_in_a_large_page_is_found_in_its_frame(library):
    """Reduced to the query working size (1 MP), a 600-px picture on a 6 MP page keeps too little
    detail; the second look at the picture framed in the page finds it, and the evidence is in
    the page's pixels."""
    original = photo("coffee")
    page = desktop_page(original)
    index, load = library
    assert [m.item_id for m in search(page, index, load, second_look=False, framed_look=False)] == []
    match = _found(page, library, 1)
    assert match.second_look and "framed" in match.edits
    assert np.abs(np.array(match.framed_in) - [1500, 500, 2100, 900]).max() <= 8
    _assert_quad(match, _corners(original) + [1500, 500], tolerance=6)
    for _, (qx, qy) in match.correspondences:  # every verified point lies on the picture
        assert 1495 <= qx <= 2105 and 495 <= qy <= 905


def test_scenes_alike_on_a_small_patch_do_not_match(monkeypatch):
    """Two generated scenes that once matched at the crop look (tests/data/false_pairs): the
    geometry and 3 of 4 blocks agree, on a hull of 1% of the original, but the detail does not."""
    folder = Path(__file__).parent / "data" / "false_pairs"
    query = decode_image((folder / "scene-query.jpg").read_bytes(), working_side=QUERY_WORKING_SIDE)
    indexed = decode_image((folder / "scene-indexed.jpg").read_bytes(), working_side=WORKING_SIDE)
    original = LocalFeatures.from_bytes(fingerprint_image(indexed).local_blob)
    looked = extract(query.image, for_query=True, keep_working=True, original_size=query.size,
                     at_crop_scale=True)
    assert verify(looked, original, 1) is None
    floor, detail = local_match.SMALL_HULL_SHARE, local_match.SMALL_HULL_DETAIL_NCC
    monkeypatch.setattr(local_match, "SMALL_HULL_SHARE", 0.0)  # without the rule: matched
    match = verify(looked, original, 1)
    assert match is not None and match.hull_share < floor and match.detail_ncc < detail


def test_a_match_leads_to_the_other_copies_of_its_picture(library):
    """A captioned re-post verified against only its best candidate (k=1: the captioned copy,
    which shares the banner) still finds the plain photograph and the logo'd copy, through the
    captioned copy's own features; each is verified against the query itself."""
    index, load = library
    query = _jpeg(_with_banner(photo("chelsea")).resize((380, 360)), 70)
    alone = search(query, index, load, k=1, other_copies=False)
    assert [m.item_id for m in alone] == [BANNER_ITEM]
    matches = {m.item_id: m for m in search(query, index, load, k=1)}
    assert set(matches) == {BANNER_ITEM, 2, LOGO_ITEM}
    assert matches[BANNER_ITEM].found_via is None
    for item in (2, LOGO_ITEM):
        assert matches[item].found_via == BANNER_ITEM and matches[item].inliers >= local_match.STRONG_INLIERS
        assert matches[item].look == "first"  # the look that found the captioned copy
    # the plain photograph lies below the banner in the query (a fifth of its height in the copy)
    assert min(y for _, y in matches[2].quad_in_query) > 0.1 * query.height


def test_a_match_leads_to_the_sources_its_chain_names(library):
    """A captioned re-post verified against only its best candidate (k=1: the captioned copy) and
    without the other copies' lookup is verified against what the chain says that copy came from
    (`sources_of`): the plain photograph is found through it; a source the query does not show
    (another photograph) is verified and refused, and an item the index lacks is not asked for."""
    index, load = library
    query = _jpeg(_with_banner(photo("chelsea")).resize((380, 360)), 70)
    asked = []

    def sources_of(item_ids):
        asked.append(list(item_ids))
        return {BANNER_ITEM: [10**9, 0, 2]}  # not indexed, a different photograph, the original

    loads = []
    matches = search(query, index, lambda item: loads.append(item) or load(item), k=1, other_copies=False,
                     sources_of=sources_of)
    found = {m.item_id: m for m in matches}
    assert set(found) == {BANNER_ITEM, 2}
    assert asked == [[BANNER_ITEM]]
    assert found[BANNER_ITEM].found_via is None
    assert found[2].found_via == BANNER_ITEM and found[2].look == "first"
    assert found[2].inliers >= local_match.STRONG_INLIERS
    assert 10**9 not in loads
    # no more than CHAIN_SOURCES sources are verified: the logo'd copy (4th) is, the original (5th) is not
    assert local_match.CHAIN_SOURCES == 4
    capped = search(query, index, load, k=1, other_copies=False,
                    sources_of=lambda ids: {BANNER_ITEM: [0, 1, 3, LOGO_ITEM, 2]})
    assert {m.item_id for m in capped} == {BANNER_ITEM, LOGO_ITEM}


@pytest.mark.parametrize("figures, reason", [
    # a crop mostly of sky over peaks (benchmarks/more_seeds.py, tune half): 3 blocks, all agreeing
    ((31, 0.70, 0.54, 0.021, 3, 1.0, 0.81), None),
    # ... but not when the fine detail does not agree as well
    ((31, 0.70, 0.54, 0.021, 3, 1.0, 0.60), "too few blocks to compare"),
    # ... nor when the geometry is unclear (under STRONG_INLIERS, or at a low inlier ratio)
    ((15, 0.70, 0.54, 0.05, 3, 1.0, 0.90), "too few blocks to compare"),
    ((31, 0.40, 0.54, 0.05, 3, 1.0, 0.90), "too few blocks to compare"),
    # a match strong on its own (detail 0.86+) needs half of its blocks, others 0.7 of them
    ((115, 0.89, 1.0, 0.3, 16, 11 / 16, 0.99), None),
    ((115, 0.89, 1.0, 0.3, 16, 11 / 16, 0.80), "the blocks disagree"),
    # false pairs of benchmarks/pair_stats.py: generated scenes alike on a small patch
    ((34, 0.586, 1.0, 0.0072, 18, 0.22, 0.47), "the blocks disagree"),
    ((28, 0.41, 1.0, 0.010, 4, 0.75, 0.50), "small patch alike: detail disagrees"),
    ((29, 0.32, 1.0, 0.05, 21, 0.76, 0.25), "look-alike layout: detail disagrees"),
])
def test_refusal_applies_the_measured_thresholds(figures, reason):
    assert local_match.refusal(*figures) == reason


def test_explain_decides_each_look_as_verify_does(library):
    """explain's verdict for a look is verify's for the same features: a crop is a match at the
    first look with the same inliers; the mirrored look of an unmirrored crop is refused."""
    index, load = library
    query = _jpeg(photo("chelsea").crop((40, 30, 360, 280)), 85)
    figures = {f.look: f for f in local_match.explain(query, load(2))}
    match = verify(extract(query, for_query=True, keep_working=True), load(2), 2)
    assert match is not None and figures["first"].refusal is None
    assert figures["first"].inliers == match.inliers and figures["first"].detail_ncc == match.detail_ncc
    assert figures["mirrored"].refusal is not None
    refused = local_match.explain(photo("coffee"), load(2))
    assert refused and all(f.refusal for f in refused)
    # several pictures at once (a post and its parts: the query's looks described once), each
    # explained as on its own
    assert local_match.explain_each(query, [load(2), load(LOGO_ITEM), load(0)]) == [
        local_match.explain(query, load(item)) for item in (2, LOGO_ITEM, 0)]


def test_first_looks_deeper_candidates_are_verified_when_nothing_matched(library, monkeypatch):
    """When the visual words rank the original just below the shortlist (as on noisy photos of a
    screen), the first look's next candidates are verified before any later look: the match comes
    from the first look's own features. Without them, only a later look can find it."""
    index, load = library
    query = _jpeg(photo("coffee").crop((30, 20, 560, 380)), 85)

    def original_ranked_last(features, k):
        ranked = [c for c in index_candidates(features, k) if c[0] != 1]
        return ([(0, 1e6)] + ranked + [(1, 1.0)])[:k]  # a decoy first, the original last

    index_candidates = index.candidates
    monkeypatch.setattr(index, "candidates", original_ranked_last)
    monkeypatch.setattr(local_match, "SHORTLIST", 1)
    match = search(query, index, load, k=1)[0]
    assert match.item_id == 1 and match.look == "first" and not match.second_look
    monkeypatch.setattr(local_match, "DEEPER_SHORTLIST", 0)
    assert [(m.item_id, m.look) for m in search(query, index, load, k=1)] in ([], [(1, "index")], [(1, "crop")])


def _on_a_noisy_wall(picture: Image.Image) -> Image.Image:
    """The picture on a plain wall with sensor noise, as a phone photographs a screen."""
    rng = np.random.default_rng(5)
    wall = np.full((picture.height + 240, picture.width + 320, 3), 60.0)
    wall[120:120 + picture.height, 160:160 + picture.width] = np.asarray(picture, np.float64)
    wall = cv2.GaussianBlur(wall, (0, 0), 0.8) + rng.normal(0.0, 4.0, wall.shape)
    return _jpeg(Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8)), 85)


def test_strong_look_searches_a_noisy_query_by_its_strong_corners(library, monkeypatch):
    """A query whose keypoints are mostly weak corners of noise (a plain wall around a photo of a
    screen) is searched again with its strong corners only, once nothing else matched: here the
    words are made to miss the original whenever weak corners vote, as the noise's did on the tune
    half. Without the strong look, only a later look can find it."""
    index, load = library
    query = _on_a_noisy_wall(photo("coffee").crop((30, 20, 560, 380)))
    first = extract(query, for_query=True)
    assert first.weak_corners >= local_match.STRONG_LOOK_WEAK_SHARE * len(first)
    strong = extract(query, for_query=True, weak_corners=False)
    assert strong.weak_corners == 0

    def on_the_wall(features: LocalFeatures) -> float:
        x, y = features.points[:, 0], features.points[:, 1]
        return float(np.mean((x < 160) | (x >= 690) | (y < 120) | (y >= 480)))

    assert on_the_wall(first) > 0.3 and on_the_wall(strong) < 0.05  # the budget goes to the photo

    def misled_by_weak_corners(features, k):
        return [c for c in index_candidates(features, k) if not (features.weak_corners and c[0] == 1)]

    index_candidates = index.candidates
    monkeypatch.setattr(index, "candidates", misled_by_weak_corners)
    match = search(query, index, load)[0]
    assert match.item_id == 1 and match.look == "strong" and match.second_look
    assert 120 < match.quad_in_query[0][0] < 170  # placed on the wall where it was pasted
    strong_figures = {f.look: f for f in local_match.explain(query, load(1))}["strong"]
    assert strong_figures.refusal is None and strong_figures.inliers == match.inliers
    monkeypatch.setattr(local_match, "STRONG_LOOK_WEAK_SHARE", 2.0)
    assert all(m.look != "strong" for m in search(query, index, load))


def test_screen_look_finds_the_picture_on_a_photographed_screen(library, monkeypatch):
    """A photo of a screen at an angle that no earlier look verified (here the words are made to
    miss the original for every look at the whole query, and no frame is found) is searched for
    the screen's picture, straightened: found there, and placed where the picture was shot."""
    from .test_screen import KEYSTONE, photographed_screen

    query, shot = photographed_screen(photo("coffee"), KEYSTONE, seed=4)
    index, load = library
    index_candidates = index.candidates

    def missed_but_on_the_screen(features: LocalFeatures, k):
        straightened = tuple(features.original_size) != query.size
        return [c for c in index_candidates(features, k) if straightened or c[0] != 1]

    monkeypatch.setattr(index, "candidates", missed_but_on_the_screen)
    monkeypatch.setattr(local_match, "_framed_features", lambda image, size, looked=None: None)
    match = search(query, index, load)[0]
    assert match.item_id == 1 and match.look == "screen" and match.second_look
    _assert_quad(match, shot.astype(float), tolerance=6)  # the match's geometry is the exact one
    assert match.edits[:1] == ["framed"] and "perspective" in match.edits
    diagonal = float(np.hypot(*(shot[2] - shot[0])))
    assert np.abs(np.array(match.screen_in) - shot).max() < 0.05 * diagonal  # the outline straightened
    quad = np.array(match.quad_in_query, np.float32)
    assert all(cv2.pointPolygonTest(quad, (float(x), float(y)), True) > -3  # points on the picture
               for _, (x, y) in match.correspondences)
    assert abs(match.scale - 1.0) < 0.15 and abs(match.rotation_deg) < 5  # of the picture as shot
    figures = {f.look: f for f in local_match.explain(query, load(1))}["screen"]
    assert figures.refusal is None and figures.inliers == match.inliers
    monkeypatch.setattr(local_match, "screen_picture", lambda image: None)
    assert search(query, index, load) == []


def test_screen_look_is_not_taken_around_a_framed_picture(library, monkeypatch):
    """A never-indexed picture in a dark-themed post is framed (the framed look searched it), and
    the picture makes an outline again: the screen look is not taken. A monitor on a plain wall is
    framed too, bezel included, and its screen lies inside the frame: it is taken."""
    from .test_framing import _phone_post
    from .test_screen import KEYSTONE, photographed_screen

    index, load = library
    straightened = []
    real = local_match.Screen.straightened
    monkeypatch.setattr(local_match.Screen, "straightened",
                        lambda self, image: straightened.append(image.size) or real(self, image))
    post, _ = _phone_post(photo("rocket"), background=(15, 15, 20), ink=(230, 230, 230))
    working = decode_image(jpeg_bytes(post, 95), working_side=QUERY_WORKING_SIDE).image
    assert local_match.framed_picture(working) is not None and local_match.screen_picture(working) is not None
    assert search(working, index, load, original_size=post.size) == [] and straightened == []
    shot, _ = photographed_screen(photo("rocket"), KEYSTONE)
    assert local_match.framed_picture(shot) is not None
    assert search(shot, index, load) == [] and straightened == [shot.size]


def test_framed_on_screen_look_finds_the_picture_in_a_photographed_post(library, monkeypatch):
    """A phone photo of a screen showing a social-media post: the post's text shares the query's
    keypoints (here the words are made to miss the original for every look but the picture framed
    in the straightened page). The page is straightened, the picture framed in it found despite the
    uneven light, searched, and placed where it was shot."""
    from .test_framing import _phone_post
    from .test_screen import KEYSTONE, photographed_screen

    post, box = _phone_post(photo("coffee"))
    post = post.resize((540, 1170), Image.Resampling.LANCZOS)
    query, shot = photographed_screen(post, KEYSTONE, wall=120.0, seed=2)
    index, load = library
    index_candidates = index.candidates

    def missed_but_in_the_page(features: LocalFeatures, k):
        width, height = features.original_size
        landscape = width > height  # the coffee photograph; the query and the page are tall
        return [c for c in index_candidates(features, k) if landscape or c[0] != 1]

    monkeypatch.setattr(index, "candidates", missed_but_in_the_page)
    match = search(query, index, load)[0]
    assert match.item_id == 1 and match.look == "framed_on_screen" and match.second_look
    to_query = cv2.getPerspectiveTransform(np.float32(_corners(post)), np.float32(shot))
    x0, y0, x1, y1 = (v / 2 for v in box)
    picture = cv2.perspectiveTransform(np.float32([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]), to_query)[0]
    _assert_quad(match, picture.astype(float), tolerance=6)
    assert match.screen_in is not None and "framed" in match.edits and "perspective" in match.edits
    figures = {f.look: f for f in local_match.explain(query, load(1))}["framed_on_screen"]
    assert figures.refusal is None
    monkeypatch.setattr(local_match, "framed_on_screen", lambda image: None)
    assert search(query, index, load) == []


def test_a_part_the_words_miss_is_verified_when_its_global_hash_proposes_it(library, monkeypatch):
    """A photographed post whose original the words rank too low in every look (made so here): the
    picture framed in the straightened page, or the screen's picture, is looked up by its PDQ hash
    (matcher.near_by_hash), and the original so proposed is verified there; a proposal is only a
    candidate, so proposing other pictures matches nothing."""
    from .test_framing import _phone_post
    from .test_matcher import _pdq_index
    from .test_screen import KEYSTONE, photographed_screen

    post, _ = _phone_post(photo("coffee"))
    query, _ = photographed_screen(post.resize((540, 1170), Image.Resampling.LANCZOS), KEYSTONE, wall=120.0, seed=2)
    index, load = library
    index_candidates = index.candidates
    monkeypatch.setattr(index, "candidates", lambda features, k: [c for c in index_candidates(features, k) if c[0] != 1])
    assert search(query, index, load) == []
    pdq = _pdq_index(dict(enumerate(INDEXED)))
    proposals = []

    def propose(picture: Image.Image) -> list[local_match.Proposal]:
        proposals.append(near_by_hash(pdq, picture, index))
        return proposals[-1]

    (match,) = search(query, index, load, propose=propose)
    assert match.item_id == 1 and match.look in ("screen", "framed_on_screen") and match.screen_in is not None
    assert match.proposed_by_hash == min(p.distance for found in proposals for p in found if p.item_id == 1)
    wrong = [local_match.Proposal(item, mirrored, 40) for item in (0, 2, 3, LOGO_ITEM) for mirrored in (False, True)]
    assert search(query, index, load, propose=lambda picture: wrong) == []


def test_photos_of_different_posts_of_one_app_do_not_match(monkeypatch):
    """Phone photos of posts of one app showing different photographs share the page around the
    photograph (header, account line, buttons, the next post's text) and agree on it; each matches
    only the photo of its own post, and none when its own is not indexed. Without the rule on the
    page's picture (PAGE_PICTURE_SHARE), or on what the screen shows (MIN_SCREEN_DETAIL_NCC), some
    match each other."""
    from .test_framing import _phone_post
    from .test_screen import KEYSTONE, photographed_screen

    def photographed_post(name: str, seed: int, shift) -> Image.Image:
        post, _ = _phone_post(photo(name))
        return photographed_screen(post.resize((540, 1170), Image.Resampling.LANCZOS), shift, wall=120.0, seed=seed)[0]

    names = ["coffee", "rocket", "astronaut", "chelsea", "camera"]
    stored = {i: LocalFeatures.from_bytes(extract(photographed_post(n, i, KEYSTONE)).to_bytes())
              for i, n in enumerate(names)}
    index = LocalFeatureIndex()
    index.add_many(stored.items())
    queries = [photographed_post(n, 10 + i, [[40, 30], [-30, 20], [-10, -15], [20, -5]]) for i, n in enumerate(names)]
    for i, query in enumerate(queries):
        assert [m.item_id for m in search(query, index, stored.get, other_copies=False)] == [i]
    # explain names the rule that refuses a look verify takes
    assert local_match.PAGE_REFUSAL in [f.refusal for f in local_match.explain(queries[0], stored[1])]
    assert local_match.SCREEN_REFUSAL in [f.refusal for f in local_match.explain(queries[0], stored[3])]
    # without its own post, a post matches no other: later looks match the phone and its interface
    # strongly (40-49 inliers), and only its content disagrees
    without_own = []
    for i, query in enumerate(queries):
        others = LocalFeatureIndex()
        others.add_many((j, features) for j, features in stored.items() if j != i)
        without_own.append((query, others))
    assert all(search(query, others, stored.get) == [] for query, others in without_own)
    # the rule reads a mirrored look's features in the mirror image's pixels: a mirrored query's
    # mirrored look decides as the query's own look does
    for mirrored in (False, True):
        query = ImageOps.mirror(queries[0]) if mirrored else queries[0]
        seen = local_match.PhotographedScreen(query, query.size)
        strong = local_match._query_features(query, query.size, weak_corners=False)
        look = local_match._Look(local_match.extract_mirrored(strong) if mirrored else strong, mirrored, strong=True)
        decided = {}
        for item in (0, 3):
            match = local_match._verify_placed(look, stored[item], item, query.size)
            assert match is not None and match.mirrored == mirrored
            decided[item] = local_match._screen_content_disagrees(match, look, stored[item], seen)
        assert decided == {0: False, 3: True}
    monkeypatch.setattr(local_match, "MIN_SCREEN_DETAIL_NCC", -1.0)
    assert any(search(query, others, stored.get) for query, others in without_own)
    monkeypatch.setattr(local_match, "PAGE_PICTURE_SHARE", 0.0)
    assert any(len(search(q, index, stored.get, other_copies=False)) > 1 for q in queries)


def _weak_match(outline: list[list[float]], points: list[tuple[float, float]]) -> LocalMatch:
    """A verified match of few inliers (under CONSISTENCY_INLIERS) with this outline in the query."""
    return LocalMatch(item_id=1, inliers=len(points), inlier_ratio=0.5, homography=np.eye(3).tolist(),
                      quad_in_query=outline, visible_in_original=[0, 0, 100, 100], visible_share=1.0,
                      mirrored=False, rotation_deg=0.0, scale=1.0, ncc_blocks=0.9, blocks_compared=20,
                      hull_share=0.3, correspondences=[[[0.0, 0.0], [x, y]] for x, y in points])


def test_page_rule_holds_for_a_match_beyond_the_screen_not_for_one_on_it():
    """The page rule: a weak match covering the picture framed on a photographed screen with few
    of its inliers on that picture is refused when it spreads beyond the screen (another photo of
    a phone: its page and the wall around), not when it lies on the screen, as a photographed
    monitor's picture does when a part of it was framed as if it were a post's picture, nor when
    its inliers are not on the screen's page."""
    screen = np.float32([[100, 100], [500, 100], [500, 900], [100, 900]])
    picture = np.float32([[150, 300], [450, 300], [450, 600], [150, 600]])
    around = [(120 + 40 * i, 120 + 7 * i) for i in range(9)] + [(130 + 40 * i, 850) for i in range(9)]
    on_screen = [[100, 100], [500, 100], [500, 900], [100, 900]]
    beyond = [[0, 0], [600, 0], [600, 1000], [0, 1000]]
    assert not local_match._only_around(_weak_match(on_screen, around), (picture, screen))
    assert local_match._only_around(_weak_match(beyond, around), (picture, screen))
    on_picture = around[:10] + [(200 + 20 * i, 350 + 20 * i) for i in range(8)]
    assert not local_match._only_around(_weak_match(beyond, on_picture), (picture, screen))
    # a crop of a photograph in which a screen was found that is none: its inliers all over the crop
    all_over = [(20 + 60 * i, 30 + 100 * j) for i in range(10) for j in range(2)] + around[:4]
    assert not local_match._only_around(_weak_match(beyond, all_over), (picture, screen))
    assert not local_match._only_around(_weak_match(beyond, around), None)


def _photo_report(library, monkeypatch, gutter: int):
    """A 3x3 "photo report" of never-indexed pictures and two indexed ones (the coffee in cell 1,
    the astronaut in cell 7), with the words made to miss the indexed ones for the whole query;
    the collage and its boxes."""
    from .test_collage import grid

    collage, boxes = grid(["rocket", "coffee", "immunohistochemistry", "clock", "retina", "coins",
                           "moon", "astronaut", "text"], 3, cell=(360, 270), gutter=gutter)
    index, _ = library
    index_candidates = index.candidates

    def missed_but_in_a_cell(features: LocalFeatures, k):
        whole = tuple(features.original_size) == collage.size
        return [c for c in index_candidates(features, k) if not whole or c[0] not in (0, 1)]

    monkeypatch.setattr(index, "candidates", missed_but_in_a_cell)
    return collage, boxes


def test_cell_look_finds_each_picture_of_a_collage(library, monkeypatch):
    """The indexed pictures of a photo report that the whole query misses are each found by
    searching its cell alone, placed in its cell, and the cell is given as the frame the look
    searched."""
    collage, boxes = _photo_report(library, monkeypatch, gutter=4)
    index, load = library
    matches = {m.item_id: m for m in search(collage, index, load)}
    assert set(matches) == {0, 1}  # astronaut, coffee
    for item, box in ((1, boxes[1]), (0, boxes[7])):
        match = matches[item]
        assert match.look == "cell" and match.second_look and "framed" in match.edits
        assert all(abs(a - b) <= 3 for a, b in zip(match.framed_in, box))
        x0, y0, x1, y1 = box
        _assert_quad(match, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float), tolerance=6)
    figures = [f for f in local_match.explain(collage, load(1)) if f.look == "cell"]
    assert len(figures) == 9 and sum(f.refusal is None for f in figures) == 1
    monkeypatch.setattr(local_match, "collage_cells", lambda image: [])
    assert search(collage, index, load) == []


def test_cell_look_finds_a_picture_of_a_grid_without_gutters(library, monkeypatch):
    """The same photo report with its pictures edge to edge: its cells are cut along the seams,
    and the indexed pictures the whole query misses are found in theirs."""
    from provenance import collage as collage_module

    collage, boxes = _photo_report(library, monkeypatch, gutter=0)
    index, load = library
    matches = {m.item_id: m for m in search(collage, index, load)}
    assert set(matches) == {0, 1}  # astronaut, coffee
    for item, box in ((1, boxes[1]), (0, boxes[7])):
        assert matches[item].look == "cell"
        assert all(abs(a - b) <= 4 for a, b in zip(matches[item].framed_in, box))
    monkeypatch.setattr(collage_module, "SEAM_SHARE", 2.0)  # no seam: no cell
    assert search(collage, index, load) == []


def test_cell_look_searches_only_the_pictures_not_found(library, monkeypatch):
    """Side by side, an indexed picture the first look finds and one it is made to miss: only the
    missed one's cell is searched, and it is found there."""
    from .test_collage import grid

    collage, boxes = grid(["chelsea", "camera"], 2)
    index, load = library
    index_candidates = index.candidates
    searched = []

    def camera_missed_whole(features: LocalFeatures, k):
        searched.append(tuple(features.original_size))
        whole = tuple(features.original_size) == collage.size
        return [c for c in index_candidates(features, k) if not whole or c[0] != 3]

    monkeypatch.setattr(index, "candidates", camera_missed_whole)
    matches = {m.item_id: m for m in search(collage, index, load, other_copies=False)}
    assert matches[2].look == "first" and matches[3].look == "cell"
    cells = [size for size in searched if size != collage.size]
    assert cells == [(400, 300)]  # the camera's cell, not the chelsea's


def test_a_mirrored_picture_in_a_grid_is_found_in_its_cell_mirrored(library, monkeypatch):
    """A 3x3 grid showing the astronaut as published and the coffee mirrored: the first look finds
    the astronaut, so the whole query's mirror image is not searched; the coffee's cell, searched
    on its own and then mirrored, finds the coffee, its quadrilateral turned left to right."""
    from .test_collage import grid

    collage, boxes = grid(["rocket", "astronaut", "immunohistochemistry", "clock", "coffee", "coins",
                           "moon", "retina", "text"], 3, cell=(360, 270))
    collage.paste(ImageOps.mirror(collage.crop(boxes[4])), boxes[4][:2])
    index, load = library
    matches = {m.item_id: m for m in search(collage, index, load)}
    assert set(matches) == {0, 1} and matches[0].look == "first" and not matches[0].mirrored
    coffee = matches[1]
    assert coffee.look == "cell" and coffee.mirrored and "mirrored" in coffee.edits
    x0, y0, x1, y1 = boxes[4]
    _assert_quad(coffee, np.array([[x1, y0], [x0, y0], [x0, y1], [x1, y1]], float), tolerance=6)
    figures = {f.look: f for f in local_match.explain(collage, load(1)) if f.refusal is None}
    assert "cell mirrored" in figures and "cell" not in figures
    assert [m.item_id for m in search(collage, index, load, mirrored=False)] == [0]
    monkeypatch.setattr(local_match, "MIRRORED_LOOKS", frozenset())
    assert [m.item_id for m in search(collage, index, load)] == [0]


def test_a_mirrored_crop_is_found_at_the_crop_look_mirrored(monkeypatch):
    """The crop of a portrait sky that only the crop look finds, mirrored: neither the first look
    nor its mirror image finds it, the crop look's mirror image does."""
    sky, index, features = _sky_library()
    query = ImageOps.mirror(sky.crop((0, 0, 721, 1082)))
    match = _found(query, (index, features.__getitem__), 9)
    assert match.look == "crop" and match.mirrored and {"cropped", "mirrored"} <= set(match.edits)
    assert np.abs(np.array(match.visible_in_original) - [0, 0, 721, 1082]).max() < 20
    assert abs(match.quad_in_query[0][0] - 721) < 20  # the original's top-left corner, at the query's right
    monkeypatch.setattr(local_match, "MIRRORED_LOOKS", frozenset(local_match.MIRRORED_LOOKS - {"crop"}))
    assert search(query, index, features.__getitem__) == []


def _glare(image: Image.Image, centre: tuple[float, float], radius: float, peak: float) -> Image.Image:
    """`image` under a soft, bright glare: washed towards white most at `centre` (shares of the
    width and height), fading over `radius` (a share of the width)."""
    arr = np.asarray(image, np.float32)
    h, w = arr.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    distance = ((x - centre[0] * w) ** 2 + (y - centre[1] * h) ** 2) / (radius * w) ** 2
    veil = (peak * np.exp(-1.5 * distance))[..., None]
    return Image.fromarray(np.clip(arr * (1 - veil) + 245 * veil, 0, 255).astype(np.uint8))


def _blocks_of(query: Image.Image, original: Image.Image) -> tuple[float, int]:
    """(share of blocks agreeing, blocks compared) of a query against an original, as verify finds them."""
    q, o = extract(query, for_query=True, keep_working=True), extract(original)
    h_work = local_match._geometric_check(q, o)[0]
    return local_match._block_agreement(q, o, local_match._to_original(h_work, q, o))[:2]


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_blocks_under_a_glare_still_agree(name):
    """A glare's brightness slopes across a block; compared less that slope, the picture under it
    still agrees (on the tune half's photos of a screen under a harsh glare, the blocks were
    what refused them)."""
    share, compared = _blocks_of(_glare(photo(name), (0.3, 0.6), 0.4, 0.95), photo(name))
    assert compared >= local_match.MIN_BLOCKS and share >= 0.95


def test_a_smooth_change_of_light_is_no_overlay_but_a_logo_is():
    """Where the original is flat, a glare adds no block to compare, and a logo does."""
    original = photo("astronaut")
    original.paste((128, 128, 128), (256, 0, 512, 512))  # the right half flat grey
    _, plain = _blocks_of(original, original)
    share, glared = _blocks_of(_glare(original, (0.75, 0.5), 0.3, 0.9), original)
    assert glared == plain and share >= 0.95
    stamped = original.copy()
    draw = ImageDraw.Draw(stamped)
    for i in range(6):
        draw.text((300, 60 + 70 * i), "LOGO TEXT", fill=(255, 255, 255), font=ImageFont.load_default(size=40))
    assert _blocks_of(stamped, original)[1] > plain


def test_a_blocks_slope_is_fitted_to_its_pixels_inside_the_query():
    """A block sloped by the light inside the query, and anything at all outside it (its weight
    0): less its plane, nothing is left inside."""
    rng = np.random.default_rng(0)
    steps = np.arange(local_match.BLOCK, dtype=np.float32)
    ys, xs = np.meshgrid(steps, steps, indexing="ij")
    block = (3.0 * xs - 2.0 * ys + 40.0).ravel()
    weight = np.ones_like(block)
    weight[: 3 * local_match.BLOCK] = 0.0  # its top three rows lie outside the query
    block[weight == 0] = rng.uniform(-200, 200, int((weight == 0).sum()))
    rest = local_match._without_slope(block[None, None], weight[None, None])[0, 0]
    assert np.abs(rest[weight > 0]).max() < 1e-2


def test_a_strip_too_thin_for_one_block_row_is_compared_on_no_blocks():
    """A template of a wide strip (a banner, a thin part) holds no whole row of blocks: the
    appearance check compares none (and verify refuses for too few blocks) instead of failing."""
    strip = photo("astronaut").resize((1400, 512)).crop((0, 200, 1400, 300))
    candidate = LocalFeatures.from_bytes(extract(strip).to_bytes())
    assert candidate.template.shape[0] < 2 * local_match.BLOCK
    query = extract(strip, for_query=True, keep_working=True)
    share, compared, *_ = local_match._block_agreement(query, candidate, np.eye(3))
    assert (share, compared) == (0.0, 0)


def test_parts_take_no_place_of_the_wholes_a_look_verifies():
    """A part ranked above the original is verified beside it, not instead of it; a part ranked
    below the last candidate verified is not verified at all (local_match.PART_PLACES)."""
    coffee = photo("coffee")
    crop = coffee.crop((coffee.width // 4, 0, coffee.width, coffee.height * 3 // 4))
    part_id = 200
    features = {i: extract(photo(name)) for i, name in enumerate(INDEXED)}
    features[part_id] = extract(crop)
    index = LocalFeatureIndex()
    for item, f in features.items():
        index.add(item, f)
    load = features.__getitem__
    parts_among = lambda ids: {part_id} & set(ids)  # noqa: E731
    query = Image.open(io.BytesIO(jpeg_bytes(crop, 60))).convert("RGB")

    def found(image, **kwargs) -> set[int]:
        return {m.item_id for m in search(image, index, load, k=1, other_copies=False, **kwargs)}

    assert found(query) == {part_id}  # the part, ranked first, took the one place
    assert found(query, parts_among=parts_among) == {part_id, INDEXED.index("coffee")}
    assert found(coffee, parts_among=parts_among) == {INDEXED.index("coffee")}  # ranked second


def test_a_picture_shared_by_two_collages_is_cropped_and_framed_in_the_other():
    """Two collages sharing one picture, one side by side, the other one above the other: each
    shows half of the other, and more beside it. The match says both ("cropped" and "framed"),
    though the other collage's outline reaches past the query's edge, so that the chain reads
    neither collage as a crop of the other."""
    shared, first, second = photo("chelsea"), photo("rocket"), photo("coffee")
    w, h = shared.size
    side_by_side = Image.new("RGB", (2 * w + 8, h), (255, 255, 255))
    side_by_side.paste(first.convert("RGB").resize((w, h)), (0, 0))
    side_by_side.paste(shared, (w + 8, 0))
    stacked = Image.new("RGB", (w, 2 * h + 8), (255, 255, 255))
    stacked.paste(shared, (0, 0))
    stacked.paste(second.convert("RGB").resize((w, h)), (0, h + 8))

    query = extract(stacked, for_query=True, keep_working=True)
    match = verify(query, extract(side_by_side), 1)
    assert match is not None and 0.4 < match.visible_share < 0.6
    assert "cropped" in match.edits and "framed" in match.edits
    whole = verify(extract(shared.crop((0, 0, w, h * 3 // 4)), for_query=True, keep_working=True), extract(shared), 2)
    assert "cropped" in whole.edits and "framed" not in whole.edits  # a plain crop is not framed
