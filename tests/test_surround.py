"""surround.py: a picture found whole inside a larger one is framed there, or was cut out of it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from provenance import local_features
from provenance.surround import flat_share, seams, surround

from .conftest import photo


def rect(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def verdict(later: Image.Image, quad) -> str | None:
    return surround(local_features.extract(later), quad, later.size)


@pytest.mark.parametrize("name", ["rocket", "astronaut", "camera"])
@pytest.mark.parametrize("colours", [((20, 30, 80), "white"), ((10, 10, 10), "white"), ((255, 255, 255), "black")])
def test_a_caption_banner_under_a_picture_is_a_frame(name, colours):
    """The gradient across a dark banner under a dark picture edge shows no border; the banner's
    flat background still tells it from the rest of a photograph."""
    img = photo(name)
    w, h = img.size
    banner = Image.new("RGB", (w, h + h // 5), colours[0])
    banner.paste(img, (0, 0))
    ImageDraw.Draw(banner).text((10, h + 10), "Square market before light evening", fill=colours[1],
                                font_size=h // 16)
    assert verdict(banner, rect(0, 0, w, h)) == "frame"


@pytest.mark.parametrize("name", ["rocket", "astronaut", "camera", "clock"])
@pytest.mark.parametrize("box", [(0.15, 0.15, 0.85, 0.85), (0, 0, 1, 0.8), (0, 0.4, 0.6, 1)])
def test_a_crop_is_not_called_a_frame(name, box):
    img = photo(name)
    w, h = img.size
    quad = rect(box[0] * w, box[1] * h, box[2] * w, box[3] * h)
    assert verdict(img, quad) == "crop"


def test_flat_share():
    assert flat_share(np.full(50, 7)) == 1.0
    assert flat_share(np.arange(256)) == pytest.approx(13 / 256)
    assert flat_share(np.array([], dtype=np.uint8)) == 0.0


def _collage(first: Image.Image, second: Image.Image, gutter: int, side_by_side: bool) -> Image.Image:
    w, h = first.size
    second = second.convert("RGB").resize((w, h))
    out = Image.new("RGB", (2 * w + gutter, h) if side_by_side else (w, 2 * h + gutter), (250, 250, 245))
    out.paste(first.convert("RGB"), (0, 0))
    out.paste(second, (w + gutter, 0) if side_by_side else (0, h + gutter))
    return out


@pytest.mark.parametrize("gutter", [0, 6, 14])
@pytest.mark.parametrize("side_by_side", [True, False])
def test_a_seam_parts_the_pictures_of_a_collage(gutter, side_by_side):
    """The part of a collage that a copy of one of its pictures shows, either picture: straight
    seams part it from the rest, with a gutter or edge to edge."""
    first, second = photo("chelsea"), photo("rocket")
    collage = _collage(first, second, gutter, side_by_side)
    w, h = first.size
    features = local_features.extract(collage)
    boxes = [(0, 0, w, h), (w + gutter, 0, 2 * w + gutter, h)] if side_by_side else \
        [(0, 0, w, h), (0, h + gutter, w, 2 * h + gutter)]
    for box, shown in zip(boxes, (first, second.resize((w, h)))):
        assert seams(features, box, collage.size, local_features.extract(shown))


@pytest.mark.parametrize("name", ["rocket", "astronaut", "camera", "clock", "coffee"])
@pytest.mark.parametrize("box", [(0.15, 0.15, 0.85, 0.85), (0, 0, 1, 0.6), (0.4, 0, 1, 1), (0, 0.4, 0.6, 1)])
def test_a_crop_has_no_seam(name, box):
    img = photo(name)
    w, h = img.size
    part = (box[0] * w, box[1] * h, box[2] * w, box[3] * h)
    assert not seams(local_features.extract(img), part, img.size, local_features.extract(img.crop(part)))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "camera"])
@pytest.mark.parametrize("cut", [-20, -10, -5, 0, 5, 10])
def test_a_crop_along_a_level_horizon_has_no_seam(name, cut):
    """A photograph under a smooth sky, its horizon straight and level, cut that far above (or
    below) the horizon, keeping the land: the image jumps along one straight line there, as at a
    seam. The crop showing that line along its own edge, or the sky's want of fine texture, tells
    that the line is in the picture. (Not always: the rocket cut 10 px under its horizon still
    reads as a seam; benchmarks/RESULTS.md, *Seams of a collage*.)"""
    land = np.asarray(photo(name).convert("RGB").resize((900, 380)), float)
    sky = np.linspace(235, 160, 220)[:, None, None] * np.ones((1, 900, 3))
    original = Image.fromarray(np.concatenate([sky, land]).astype(np.uint8))
    part = (0, 220 + cut, 900, 600)
    assert not seams(local_features.extract(original), part, original.size,
                     local_features.extract(original.crop(part)))
    flipped = original.transpose(Image.Transpose.FLIP_TOP_BOTTOM)  # the land above, cut under it
    part = (0, 0, 900, 380 - cut)
    assert not seams(local_features.extract(flipped), part, flipped.size, local_features.extract(flipped.crop(part)))


def test_no_seam_without_a_side_inside_the_picture():
    img = photo("chelsea")
    features = local_features.extract(img)
    assert not seams(features, (0, 0, img.width, img.height), img.size)
    assert not seams(features, (10, 10, 20, 20), (0, 0))


_CHELSEA = local_features.extract(photo("chelsea"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=4, max_size=4),
       st.tuples(st.floats(-10, 5000), st.floats(-10, 5000)), st.booleans())
def test_seams_answers_any_box(box, size, mirrored):
    """A box from a stored link's evidence, whatever it holds, gets an answer, never an error."""
    assert seams(_CHELSEA, tuple(box), size, _CHELSEA, mirrored=mirrored) in (True, False)
