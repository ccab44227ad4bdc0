"""The picture on a photographed screen: found and straightened, never made up in a plain image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from provenance.screen import MAX_AREA, Screen, screen_picture

from .conftest import photo


def photographed_screen(picture: Image.Image, shift, *, wall: float = 70.0, seed: int = 0,
                        blur: float = 1.2, noise: float = 5.0) -> tuple[Image.Image, np.ndarray]:
    """A phone photo of `picture` on a monitor: a dark bezel on a lighter wall, its corners moved
    by `shift` (4 x [dx, dy] pixels, a perspective view), blur and sensor noise; and where the
    picture's corners land (top-left, top-right, bottom-right, bottom-left)."""
    w, h = picture.size
    bezel, margin = 30, 90
    frame = np.full((h + 2 * (bezel + margin), w + 2 * (bezel + margin), 3), wall, np.float32)
    frame[margin:-margin, margin:-margin] = 15.0
    frame[margin + bezel:margin + bezel + h, margin + bezel:margin + bezel + w] = np.asarray(picture, np.float32)
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]]) + margin + bezel
    monitor = np.float32([[margin, margin], [w + margin + 2 * bezel, margin],
                          [w + margin + 2 * bezel, h + margin + 2 * bezel], [margin, h + margin + 2 * bezel]])
    view = cv2.getPerspectiveTransform(monitor, monitor + np.float32(shift))
    taken = cv2.warpPerspective(frame, view, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    taken = cv2.GaussianBlur(taken, (0, 0), blur) + np.random.default_rng(seed).normal(0, noise, taken.shape)
    shot = cv2.perspectiveTransform(corners[None], view)[0]
    return Image.fromarray(np.clip(taken, 0, 255).astype(np.uint8)), shot


KEYSTONE = [[60, 40], [-50, 25], [-15, -20], [25, -10]]


def _assert_outline(screen: Screen | None, shot: np.ndarray, share: float) -> None:
    """The screen's outline is within `share` of the picture's diagonal of where it was shot: an
    outline is only as exact as the picture's edges are bright (the match's own geometry is exact,
    see test_local_match)."""
    assert screen is not None
    tolerance = share * float(np.hypot(*(shot[2] - shot[0])))
    assert np.abs(np.array(screen.corners) - shot).max() <= tolerance, (screen.corners, shot.tolist())


def test_the_screens_picture_is_found_at_its_corners():
    query, shot = photographed_screen(photo("rocket"), KEYSTONE)
    _assert_outline(screen_picture(query), shot, 0.02)


def test_the_straightened_picture_is_the_original_upright():
    original = photo("rocket")
    query, _ = photographed_screen(original, KEYSTONE, seed=1)
    screen = screen_picture(query)
    assert screen is not None
    width, height = screen.size()
    assert abs(width / height - original.width / original.height) < 0.05  # its shape again
    upright = np.asarray(screen.straightened(query).convert("L").resize((160, 107)), np.float64)
    expected = np.asarray(original.convert("L").resize((160, 107)), np.float64)
    assert np.corrcoef(upright.ravel(), expected.ravel())[0, 1] > 0.85
    # the homography to the query takes the straightened corners to the screen's corners
    rect = np.float64([[0, 0], [width, 0], [width, height], [0, height]])
    back = cv2.perspectiveTransform(rect[None], screen.to_image())[0]
    assert np.abs(back - np.array(screen.corners)).max() < 0.5


def test_a_dark_picture_on_a_darker_bezel_is_still_found():
    """The picture's own dark parts are holes inside it, or the picture is the hole in the bezel."""
    dark = Image.fromarray((np.asarray(photo("camera").convert("RGB"), np.float32) * 0.45 + 30).astype(np.uint8))
    query, shot = photographed_screen(dark, KEYSTONE, wall=45.0, seed=2)
    _assert_outline(screen_picture(query), shot, 0.05)
    query, shot = photographed_screen(photo("coffee"), KEYSTONE, seed=3)  # dark at its left edge
    _assert_outline(screen_picture(query), shot, 0.05)


@pytest.mark.parametrize("make", [
    lambda: Image.new("RGB", (640, 480), (128, 128, 128)),
    lambda: Image.fromarray(np.tile(np.linspace(0, 255, 640, dtype=np.uint8), (480, 1))).convert("RGB"),
    lambda: Image.new("RGB", (20, 900), (250, 250, 250)),
    lambda: photo("coffee"),
    lambda: photo("chelsea"),
])
def test_no_screen_in_images_that_show_none(make):
    assert screen_picture(make()) is None


def test_a_picture_filling_the_photo_is_left_alone():
    """A monitor filling nearly all of the photo leaves nothing to straighten (MAX_AREA)."""
    picture = photo("coffee")
    query, _ = photographed_screen(picture, np.zeros((4, 2)))
    margin = 120  # the bezel and wall around the picture, cut off
    tight = query.crop((margin + 4, margin + 4, query.width - margin - 4, query.height - margin - 4))
    assert screen_picture(tight) is None
    assert MAX_AREA < 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(32, 1200), st.integers(32, 1200), st.integers(0, 2**32 - 1))
def test_any_image_gives_a_screen_inside_it_or_none(width, height, seed):
    """Hostile input (noise, blocks of random levels) never raises and never places a screen
    outside the image or with fewer than four ordered corners."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (rng.integers(1, 8), rng.integers(1, 8), 3), dtype=np.uint8)
    image = Image.fromarray(blocks).resize((width, height), Image.Resampling.NEAREST)
    noisy = np.clip(np.asarray(image, np.int16) + rng.integers(-20, 21, (height, width, 3)), 0, 255)
    screen = screen_picture(Image.fromarray(noisy.astype(np.uint8)))
    if screen is not None:
        corners = np.array(screen.corners)
        assert corners.shape == (4, 2)
        assert (corners >= -1).all() and (corners[:, 0] <= width + 1).all() and (corners[:, 1] <= height + 1).all()
        assert isinstance(screen, Screen) and 0 < screen.share <= MAX_AREA
        x, y = corners[:, 0], corners[:, 1]
        assert np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0  # clockwise from the top-left
        assert cv2.isContourConvex(np.float32(corners).reshape(-1, 1, 2))
        assert min(screen.size()) >= 64


def test_a_region_cut_at_a_slant_is_no_screen():
    """A bright wedge on a dark ground (a generated scene's sky under a slanted ridge) has four
    corners but not a rectangle's: its straightened picture would be a sliver (which once crashed
    the feature extractor)."""
    image = np.full((600, 800, 3), 20, np.uint8)
    cv2.fillPoly(image, [np.int32([[60, 380], [790, 260], [790, 590], [60, 395]])], (230, 230, 230))
    assert screen_picture(Image.fromarray(image)) is None
