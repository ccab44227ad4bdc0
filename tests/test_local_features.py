"""Local features: extraction invariants and the compact, versioned byte format."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from provenance.local_features import (
    ALGORITHM,
    INDEX_FEATURES,
    QUERY_FEATURES,
    VERSION,
    LocalFeatures,
    extract,
    extract_mirrored,
)

from .conftest import photo


def test_round_trip_is_exact_and_compact():
    features = extract(photo())
    blob = features.to_bytes()
    again = LocalFeatures.from_bytes(blob)
    assert again.to_bytes() == blob
    np.testing.assert_array_equal(again.points, features.points)
    np.testing.assert_array_equal(again.descriptors, features.descriptors)
    np.testing.assert_array_equal(again.template, features.template)
    np.testing.assert_array_equal(again.colour, features.colour)
    assert again.original_size == features.original_size == (512, 512)
    assert again.working_size == features.working_size
    assert again.version == f"{ALGORITHM}-{VERSION}"
    assert len(features) == INDEX_FEATURES
    assert len(blob) <= 30 * 1024  # a square picture is the largest case


def test_foreign_or_truncated_blob_is_refused():
    blob = extract(photo("coffee")).to_bytes()
    with pytest.raises(ValueError):
        LocalFeatures.from_bytes(b"XYZ" + blob[3:])
    with pytest.raises(ValueError):
        LocalFeatures.from_bytes(blob[:-10])
    with pytest.raises(ValueError):
        LocalFeatures.from_bytes(blob + b"\0")


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 60),
    size=st.tuples(st.integers(1, 9000), st.integers(1, 9000)),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_of_arbitrary_features(n, size, seed):
    rng = np.random.default_rng(seed)
    working = (min(size[0], 640), min(size[1], 640))
    features = LocalFeatures(
        original_size=size,
        working_size=working,
        points=(np.round(rng.uniform(0, 639, (n, 2)) * 8) / 8).astype(np.float32),
        descriptors=rng.integers(0, 256, (n, 32), dtype=np.uint8),
        template=rng.integers(0, 256, (int(rng.integers(1, 129)), int(rng.integers(1, 129))), dtype=np.uint8),
        colour=rng.integers(0, 256, (12, 16, 3), dtype=np.uint8),
    )
    again = LocalFeatures.from_bytes(features.to_bytes())
    assert (again.original_size, again.working_size) == (features.original_size, features.working_size)
    for name in ("points", "descriptors", "template", "colour"):
        np.testing.assert_array_equal(getattr(again, name), getattr(features, name))


def test_reduced_input_reports_original_coordinates():
    image = photo("coffee")  # 600 x 400
    full = extract(image)
    half = extract(image.resize((300, 200), Image.Resampling.LANCZOS), original_size=(600, 400))
    assert half.original_size == (600, 400)
    assert half.points_original()[:, 0].max() > 400  # spans the original's width
    assert full.points_original()[:, 0].max() <= 600


def test_query_extraction_keeps_working_images_and_mirrors():
    image = photo("chelsea")
    query = extract(image, for_query=True, keep_working=True)
    assert query.working is not None and query.working_colour is not None
    assert len(query) <= QUERY_FEATURES
    mirrored = extract_mirrored(query)
    assert mirrored.working_size == query.working_size
    np.testing.assert_array_equal(mirrored.working, query.working[:, ::-1])
    with pytest.raises(ValueError):
        extract_mirrored(extract(image))


def test_flat_image_has_no_keypoints_and_still_serialises():
    features = extract(Image.new("RGB", (800, 600), (128, 128, 128)))
    assert len(features) == 0
    assert len(LocalFeatures.from_bytes(features.to_bytes())) == 0


def test_large_input_is_reduced_to_the_working_size():
    image = photo("astronaut").resize((4000, 3000))
    features = extract(image)
    assert max(features.working_size) == 640
    assert features.original_size == (4000, 3000)


def _smoothphoto() -> Image.Image:
    """A photograph blurred until ORB's usual FAST threshold finds few corners (like bokeh)."""
    from PIL import ImageFilter

    return photo("rocket").filter(ImageFilter.GaussianBlur(4))


def test_scarce_cells_get_weak_corners_and_textured_cells_none():
    import cv2

    from provenance import local_features

    # left half textured, right half flat: only the flat cells are scarce
    textured = np.asarray(photo("astronaut").convert("L").resize((640, 640)))
    gray = textured.copy()
    gray[:, 320:] = cv2.GaussianBlur(textured[:, 320:], (0, 0), 6)
    strong = list(local_features._orb().detect(gray, None))
    weak = local_features._scarce_cell_corners(gray, strong, INDEX_FEATURES, trigger=0.0)
    assert weak, "the blurred half should yield corners at the fallback threshold"
    counts = np.bincount(local_features._cells(cv2.KeyPoint_convert(strong), gray.shape),
                         minlength=local_features.GRID ** 2)
    scarce = counts < local_features.SCARCE_SHARE * INDEX_FEATURES / local_features.GRID ** 2
    assert scarce[local_features._cells(cv2.KeyPoint_convert(weak), gray.shape)].all()
    # below the trigger share of scarce cells nothing is re-detected
    assert local_features._scarce_cell_corners(gray, strong, INDEX_FEATURES, trigger=1.01) == []


def test_smooth_picture_gets_more_keypoints_with_the_fallback(monkeypatch):
    from provenance import local_features

    with_fallback = extract(_smoothphoto())
    monkeypatch.setattr(local_features, "FAST_FALLBACK_THRESHOLD", 0)
    without = extract(_smoothphoto())
    assert len(without) < INDEX_FEATURES
    assert len(with_fallback) > len(without)
    assert with_fallback.weak_corners > 0 and without.weak_corners == 0
    monkeypatch.undo()
    strong_only = extract(_smoothphoto(), weak_corners=False)  # what the strong look asks for
    assert strong_only.weak_corners == 0 and len(strong_only) == len(without)


def test_crop_of_a_smooth_picture_is_verified():
    from provenance.local_match import verify

    image = _smoothphoto()
    w, h = image.size
    crop = image.crop((int(w * 0.2), int(h * 0.15), int(w * 0.9), int(h * 0.85)))
    match = verify(extract(crop, for_query=True, keep_working=True), extract(image), 7)
    assert match is not None and match.item_id == 7
    assert "cropped" in match.edits
    # the crop's top-left corner sits where the original's (0.2 w, 0.15 h) is
    assert match.visible_in_original[0] == pytest.approx(0.2 * w, abs=0.03 * w)
    assert match.visible_in_original[1] == pytest.approx(0.15 * h, abs=0.03 * h)


@pytest.mark.parametrize("size, working", [
    ((3000, 2000), (975, 650)),   # a large photo: down to the index's scale
    ((300, 200), (640, 427)),     # a small copy: up to the index's side
    ((150, 100), (450, 300)),     # a tiny one: at most QUERY_MAX_UPSCALE times
    ((1080, 2260), (650, 1360)),  # a phone screenshot: the picture inside keeps ~550 px
    ((4000, 800), (1600, 320)),   # a panorama: bounded by QUERY_MAX_SIDE
])
def test_second_look_is_at_the_index_scale(size, working):
    image = photo("astronaut").resize(size)
    assert extract(image, for_query=True, at_index_scale=True).working_size == working
    assert max(extract(image).working_size) == min(640, max(size))  # originals: never upscaled


@pytest.mark.parametrize("size, working", [
    ((3000, 2000), (512, 341)),   # the long side where the index saw half of a 640-px original
    ((700, 1100), (326, 512)),    # a portrait crop, which the second look left at ~2x that scale
    ((200, 150), (512, 384)),     # a small one: upscaled
    ((100, 60), (300, 180)),      # a tiny one: at most QUERY_MAX_UPSCALE times
])
def test_crop_look_is_at_the_scale_of_a_part_of_an_original(size, working):
    image = photo("astronaut").resize(size)
    assert extract(image, for_query=True, at_crop_scale=True).working_size == working


@pytest.mark.parametrize("size, working", [
    ((3000, 2000), (1225, 816)),  # bounded by area
    ((300, 200), (300, 200)),     # never upscaled
    ((1080, 2260), (691, 1447)),  # a phone screenshot: the picture inside keeps ~590 px
    ((4000, 800), (1600, 320)),   # bounded by side
])
def test_first_look_is_bounded_by_area_and_side(size, working):
    image = photo("astronaut").resize(size)
    assert extract(image, for_query=True).working_size == working
