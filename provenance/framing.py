"""Find the picture framed inside a query: the photo of a social-media screenshot, a picture on
a flat page or between flat bars.

Such a query is mostly interface drawn in one flat colour (the app's background) with text,
icons and buttons on it, and one large rectangle of picture. Searching the rectangle alone
(local_match.search, the framed look) gives the picture the whole budget of query features, which
text corners otherwise share, and its own scale, where a large page reduced to the query working
size leaves a small picture too few pixels.
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


@dataclass(frozen=True)
class Frame:
    """Where the framed picture lies in the query, in the given image's pixels."""

    left: int
    top: int
    right: int
    bottom: int
    #: The share of the query's area the rectangle covers.
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
    width, height = image.size
    if min(width, height) < 32:
        return None
    small = image if image.mode == "RGB" else image.convert("RGB")
    factor = -(-max(width, height) // SIDE)  # ceiling: an integer box reduction, the fastest
    if factor > 1:
        small = small.reduce(factor)
    rgb = np.asarray(small, dtype=np.int16)
    h, w = rgb.shape[:2]
    bins = (rgb >> BIN_SHIFT).reshape(-1, 3)
    keys = (bins[:, 0] << 10) | (bins[:, 1] << 5) | bins[:, 2]
    counts = np.bincount(keys, minlength=1 << 15)
    mode = int(np.argmax(counts))
    if counts[mode] < BACKGROUND_SHARE * len(keys):
        return None
    background = rgb.reshape(-1, 3)[keys == mode].mean(axis=0)
    picture = (np.abs(rgb - background).max(axis=2) > BACKGROUND_TOLERANCE).astype(np.uint8)
    stroke = max(3, round(STROKE_SHARE * w))
    picture = cv2.morphologyEx(picture, cv2.MORPH_OPEN, np.ones((stroke, stroke), np.uint8))
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
    sx, sy = width / w, height / h
    return Frame(left=max(0, round(x * sx)), top=max(0, round(y * sy)),
                 right=min(width, round((x + bw) * sx)), bottom=min(height, round((y + bh) * sy)),
                 share=round(share, 4))
