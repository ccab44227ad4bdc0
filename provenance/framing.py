"""Find the picture framed inside a query: the photo of a social-media screenshot, a picture on
a flat page or between flat bars.

Such a query is mostly interface drawn in one flat colour (the app's background) with text,
icons and buttons on it, and one large rectangle of picture. Searching the rectangle alone
(local_match.search, the framed look) gives the picture the whole budget of query features, which
text corners otherwise share, and its own scale, where a large page reduced to the query working
size leaves a small picture too few pixels.

A screen photographed at an angle and straightened (screen.py) shows such a page too, but lit
unevenly (vignetting, the screen's glow), with sensor noise and moire: framed_on_screen evens the
light and smooths the noise before it looks for the page's background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

# The image is examined reduced by a whole factor to at most this longest side.
SIDE = 480
# The background is the most common colour (in bins of 2**BIN_SHIFT levels per channel), when
# at least BACKGROUND_SHARE of the pixels have it: a screenshot's canvas, a page, black bars.
BIN_SHIFT = 3
BACKGROUND_SHARE = 0.2
# A pixel within this many levels (per channel) of the background colour is background.
BACKGROUND_TOLERANCE = 10
# Strokes thinner than this share of the examined width (text, icons, outlines) are removed
# before the largest block of non-background pixels is taken.
STROKE_SHARE = 0.025
# The largest of the CANDIDATES largest blocks that has less than MAX_FLAT_SHARE of its pixels in
# one colour bin is the picture (app bars and buttons are flat blocks of another colour).
CANDIDATES = 4
MAX_FLAT_SHARE = 0.5
# The block counts as a framed picture when its bounding box covers MIN_AREA..MAX_AREA of the
# query, at least MIN_FILL of that box is picture, and its shorter side is at least MIN_SIDE of
# the query's shorter side.
MIN_AREA = 0.02
MAX_AREA = 0.85
MIN_FILL = 0.75
MIN_SIDE = 0.12
# On a photographed screen (framed_on_screen): the examined image is smoothed by a Gaussian of
# SCREEN_SMOOTHING pixels (of the examined image) against noise and moire; the light is evened by
# subtracting a quadratic surface fitted to the pixels within SCREEN_FIT_TOLERANCE of the
# background (refitted LIGHT_FITS times), fitted on every LIGHT_FIT_STEP-th pixel each way; a pixel
# within SCREEN_TOLERANCE of the background colour is background, and at least BACKGROUND_SHARE
# must be. Tune half (benchmarks/more_seeds.py --kinds screen_photo_of_post): a frame is found in
# the straightened screen for 111 of 131 photos of a post, against 51 with framed_picture.
SCREEN_SMOOTHING = 0.7
SCREEN_TOLERANCE = 12
SCREEN_FIT_TOLERANCE = 16
LIGHT_FITS = 3
LIGHT_FIT_STEP = 2


@dataclass(frozen=True)
class Frame:
    """Where a picture lies in an image, in its pixels: the picture framed in it, or one cell of a
    collage (collage.collage_cells)."""

    left: int
    top: int
    right: int
    bottom: int
    #: The share of the image's area the rectangle covers.
    share: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), as PIL's crop takes it."""
        return (self.left, self.top, self.right, self.bottom)


def framed_picture(image: Image.Image) -> Frame | None:
    """The rectangle of the one picture framed by flat interface in `image`, or None.

    None for a plain photograph (no colour covers a fifth of it), for a page with no large
    picture block, or when the block is nearly the whole image.
    """
    small = _examined(image)
    if small is None:
        return None
    rgb = np.asarray(small, dtype=np.int16)
    keys = _colour_keys(rgb)
    counts = np.bincount(keys, minlength=1 << 15)
    mode = int(np.argmax(counts))
    if counts[mode] < BACKGROUND_SHARE * len(keys):
        return None
    background = rgb.reshape(-1, 3)[keys == mode].mean(axis=0)
    picture = _largest_difference(rgb, background) > BACKGROUND_TOLERANCE
    return _framed_block(picture, keys, image.size)


def framed_on_screen(image: Image.Image) -> Frame | None:
    """framed_picture for the straightened picture of a photographed screen (screen.Screen): the
    page's background is found after the light is evened and the noise smoothed, and counts as
    background within SCREEN_TOLERANCE of its colour. None as for framed_picture."""
    small = _examined(image)
    if small is None:
        return None
    rgb = cv2.GaussianBlur(np.asarray(small, dtype=np.float32), (0, 0), SCREEN_SMOOTHING)
    rgb = np.clip(_even_light(rgb) + 0.5, 0, 255).astype(np.int16)
    keys = _colour_keys(rgb)
    mode = int(np.argmax(np.bincount(keys, minlength=1 << 15)))
    background = rgb.reshape(-1, 3)[keys == mode].mean(axis=0)
    picture = _largest_difference(rgb, background) > SCREEN_TOLERANCE
    if picture.mean() > 1 - BACKGROUND_SHARE:
        return None
    return _framed_block(picture, keys, image.size)


def _examined(image: Image.Image) -> Image.Image | None:
    """`image` in RGB, reduced by a whole factor to at most SIDE; None when it is too small."""
    width, height = image.size
    if min(width, height) < 32:
        return None
    small = image if image.mode == "RGB" else image.convert("RGB")
    factor = -(-max(width, height) // SIDE)  # ceiling: an integer box reduction, the fastest
    return small.reduce(factor) if factor > 1 else small


def _colour_keys(rgb: np.ndarray, shift: int = BIN_SHIFT) -> np.ndarray:
    """Each pixel's colour bin (2**shift levels per channel) as one integer, flattened."""
    bins = (rgb >> shift).reshape(-1, 3)
    return (bins[:, 0] << 10) | (bins[:, 1] << 5) | bins[:, 2]


def _even_light(rgb: np.ndarray) -> np.ndarray:
    """`rgb` (float) with the light evened: a quadratic surface per channel, fitted to the pixels
    near the most common coarse colour (the page's background) and refitted to those near the
    surface, is replaced by its mean."""
    h, w = rgb.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs, ys = xs / w, ys / h
    terms = np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=-1).reshape(-1, 6)
    pixels = rgb.reshape(-1, 3)
    keys = _colour_keys(pixels.astype(np.int32), shift=4)
    near = keys == np.argmax(np.bincount(keys))
    near = _largest_difference(pixels, pixels[near].mean(axis=0)) < 3 * SCREEN_FIT_TOLERANCE
    sample = np.zeros((h, w), bool)
    sample[::LIGHT_FIT_STEP, ::LIGHT_FIT_STEP] = True
    sample = sample.ravel()
    surface = None
    for _ in range(LIGHT_FITS):
        fit = near & sample
        if fit.sum() < 6 * 3:
            break  # too little background to fit a surface to
        coefficients, *_ = np.linalg.lstsq(terms[fit], pixels[fit], rcond=None)
        surface = terms @ coefficients
        near = _largest_difference(pixels, surface) < SCREEN_FIT_TOLERANCE
    if surface is None:
        return rgb
    return (pixels - surface + surface.mean(axis=0)).reshape(h, w, 3)


def _largest_difference(colours: np.ndarray, other) -> np.ndarray:
    """The largest absolute difference over the three channels (the last axis) of `colours` from
    `other` (one colour or one per pixel)."""
    difference = np.abs(colours - other)
    return np.maximum(np.maximum(difference[..., 0], difference[..., 1]), difference[..., 2])


def _framed_block(picture: np.ndarray, keys: np.ndarray, size: tuple[int, int]) -> Frame | None:
    """The framed picture's rectangle in an image of `size`, from the mask of the examined image's
    pixels that are not background, or None (see framed_picture)."""
    h, w = picture.shape
    stroke = max(3, round(STROKE_SHARE * w))
    picture = cv2.morphologyEx(picture.astype(np.uint8), cv2.MORPH_OPEN, np.ones((stroke, stroke), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(picture, connectivity=4)
    labels = labels.ravel()
    for label in 1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA], kind="stable")[:CANDIDATES]:
        x, y, bw, bh, area = (int(v) for v in stats[label])
        colours = np.bincount(keys[labels == label])
        if colours.max() < MAX_FLAT_SHARE * colours.sum():  # not a flat bar or button
            break
    else:
        return None
    share = bw * bh / (w * h)
    if not (MIN_AREA <= share <= MAX_AREA) or area < MIN_FILL * bw * bh or min(bw, bh) < MIN_SIDE * min(w, h):
        return None
    width, height = size
    sx, sy = width / w, height / h
    return Frame(left=max(0, round(x * sx)), top=max(0, round(y * sy)),
                 right=min(width, round((x + bw) * sx)), bottom=min(height, round((y + bh) * sy)),
                 share=round(share, 4))
