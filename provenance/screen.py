"""Find the picture on a screen photographed at an angle, and straighten it.

A phone photo of a monitor shows the picture as a quadrilateral (perspective), blurred, noisy and
surrounded by a dark bezel and a wall. Its keypoints then share the query's budget with the wall's
noise, and its geometry is the hardest a homography has to fit. Cut out along its four corners and
warped back to a rectangle (local_match.search, the screen look), the picture is searched alone,
upright, at the index's scale, where blur matters least.

The picture is told apart from its surround by brightness: at some grey level the screen's
picture is one bright region (its own dark parts are holes inside it) or one hole in the dark
bezel, whose outline is a filled quadrilateral, and the band just outside that quadrilateral is
darker than the picture inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

# The image is examined reduced by a whole factor to at most this longest side.
SIDE = 320
# Grey levels tried as the border between the picture and its surround: LEVELS percentiles of the
# examined image's grey levels, evenly between these two.
LEVELS = 12
PERCENTILES = (3.0, 70.0)
# The quadrilateral covers MIN_AREA..MAX_AREA of the image (a monitor fills most of a phone photo
# of it; a picture nearly the whole query needs no straightening) and its region fills at least
# MIN_FILL of it (a blob of sky or a road is rarely a quadrilateral).
MIN_AREA = 0.15
MAX_AREA = 0.92
MIN_FILL = 0.9
# The band just outside the quadrilateral (RING_SHARE of the examined side wide) is darker than the
# inside: its median grey at most MAX_RING_RATIO of the inside's. Tune half (benchmarks/more_seeds.py
# photos of a screen, and a harsher variant: 12% perspective, blur 1-2 px, noise 4-8): the ratio's
# median is 0.09-0.14, its 95th percentile 0.28-0.67; over never-indexed photographs and generated
# scenes, on which a quadrilateral of some bright region is found most of the time, the median is
# 0.7-0.78. With the rules below as well, an outline is found in 12% of the tune half's 2,990
# benchmark queries (never-indexed ones included), which then pay the look (local_match.search).
RING_SHARE = 0.03
MAX_RING_RATIO = 0.6
# At least this share of that band lies inside the image (a monitor is seen with its surround on
# most sides; a photograph's bright region ends at the image's edges).
MIN_RING_INSIDE = 0.6
# The straightened picture is at least MIN_SIDE pixels on each side (a narrower one is no
# screen a phone photographed, and too small to describe).
MIN_SIDE = 64
# Every corner of the quadrilateral is within this many degrees of a right angle: a monitor filling
# 80% of the photo with its corners moved by up to 8% of the frame (the benchmark's photo of a
# screen) stays within 25 degrees, by up to 12% (screen_photo_harsh) within 40 (20,000 draws).
MAX_CORNER_SKEW = 40.0
# Approximation tolerances (share of the outline's perimeter) tried, smallest first, to reduce the
# region's convex hull to four corners.
_EPSILONS = (0.01, 0.02, 0.035, 0.05)


@dataclass(frozen=True)
class Screen:
    """The picture's corners in the image's pixels: top-left, top-right, bottom-right, bottom-left."""

    corners: tuple[tuple[float, float], ...]
    #: The share of the image's area the quadrilateral covers.
    share: float

    def size(self) -> tuple[int, int]:
        """(width, height) of the straightened picture: the mean lengths of opposite sides."""
        tl, tr, br, bl = np.asarray(self.corners, np.float64)
        width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
        height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
        return max(1, round(width)), max(1, round(height))

    def to_image(self) -> np.ndarray:
        """The homography from the straightened picture's pixels to the image's."""
        width, height = self.size()
        rect = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
        return cv2.getPerspectiveTransform(rect, np.float32(self.corners)).astype(np.float64)

    def straightened(self, image: Image.Image) -> Image.Image:
        """The picture cut out of `image` along the corners and warped to an upright rectangle."""
        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
        warped = cv2.warpPerspective(rgb, self.to_image(), self.size(),
                                     flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        return Image.fromarray(warped)


def screen_picture(image: Image.Image) -> Screen | None:
    """The quadrilateral of a picture shown on a screen (darker around it) in `image`, or None.

    Of the quadrilaterals found at every grey level tried, the largest well-filled one whose
    surround is darker than it; None when there is none, when the picture would straighten to
    less than MIN_SIDE pixels on a side, or when the image is too small to examine.
    """
    width, height = image.size
    if min(width, height) < 32:
        return None
    factor = -(-max(width, height) // SIDE)  # ceiling: an integer box reduction, the fastest
    grey = image.convert("L")
    if factor > 1:
        grey = grey.reduce(factor)
    small = cv2.GaussianBlur(np.asarray(grey, np.uint8), (0, 0), 1.5)
    area = float(small.shape[0] * small.shape[1])
    kernel = np.ones((max(3, round(0.02 * max(small.shape))),) * 2, np.uint8)
    ring_kernel = np.ones((max(3, round(RING_SHARE * max(small.shape))),) * 2, np.uint8)
    best: tuple[float, np.ndarray] | None = None
    levels = np.unique(np.percentile(small, np.linspace(*PERCENTILES, LEVELS)).astype(np.uint8))
    for level in levels:
        for outline in _outlines(small, int(level), kernel):
            found = _quadrilateral(outline, area)
            if found is None:
                continue
            score, corners = found
            if (best is None or score > best[0]) and _darker_around(small, corners, ring_kernel):
                best = score, corners
    if best is None:
        return None
    corners = _ordered(best[1]) * np.float32([width / small.shape[1], height / small.shape[0]])
    screen = Screen(tuple((round(float(x), 2), round(float(y), 2)) for x, y in corners),
                    share=round(float(cv2.contourArea(best[1])) / area, 4))
    return screen if min(screen.size()) >= MIN_SIDE else None


def _outlines(small: np.ndarray, level: int, kernel: np.ndarray):
    """Outlines of the candidate regions at one grey level: the two largest bright blobs (their
    holes count as theirs) and every large hole in the dark part."""
    bright = cv2.morphologyEx((small > level).astype(np.uint8), cv2.MORPH_OPEN, kernel)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    for label in (1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA]))[:2]:
        contours, _ = cv2.findContours((labels == label).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        if contours:
            yield max(contours, key=cv2.contourArea)
    dark = cv2.morphologyEx((small <= level).astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    contours, hierarchy = cv2.findContours(dark, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is not None:
        min_hole = MIN_AREA * small.shape[0] * small.shape[1]
        for contour, (_, _, _, parent) in zip(contours, hierarchy[0]):
            if parent >= 0 and cv2.contourArea(contour) > min_hole:
                yield _outer_outline(small.shape, contour)


def _outer_outline(shape: tuple[int, ...], hole: np.ndarray) -> np.ndarray:
    """A hole's outline traced as the outside of the filled hole (OpenCV traces a hole along the
    dark pixels around it), so that both kinds of region are measured alike."""
    mask = np.zeros(shape, np.uint8)
    cv2.drawContours(mask, [hole], -1, 1, thickness=-1)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return max(contours, key=cv2.contourArea)


def _quadrilateral(outline: np.ndarray, area: float) -> tuple[float, np.ndarray] | None:
    """(score, four corners) of a region's outline shaped like a quadrilateral of a plausible
    size, or None; the score (fill x share) prefers the larger of two well-filled ones."""
    hull = cv2.convexHull(outline)
    perimeter = cv2.arcLength(hull, True)
    for epsilon in _EPSILONS:
        corners = cv2.approxPolyDP(hull, epsilon * perimeter, True)
        if len(corners) <= 4:
            break
    if len(corners) != 4:
        return None
    quad_area = cv2.contourArea(corners)
    share = quad_area / area
    fill = cv2.contourArea(outline) / max(quad_area, 1.0)
    corners = corners.reshape(4, 2).astype(np.float32)
    if not MIN_AREA <= share <= MAX_AREA or fill < MIN_FILL or not _angles_plausible(corners):
        return None
    return fill * share, corners


def _darker_around(small: np.ndarray, corners: np.ndarray, ring_kernel: np.ndarray) -> bool:
    """Whether the band just outside the quadrilateral is darker than its inside (MAX_RING_RATIO)
    and mostly inside the image (MIN_RING_INSIDE): a bright region cut off by the image's edges
    (a sky, the light half of a gradient) has little or no surround to be darker."""
    pad = ring_kernel.shape[0]
    inside = np.zeros((small.shape[0] + 2 * pad, small.shape[1] + 2 * pad), np.uint8)
    cv2.fillConvexPoly(inside, np.round(corners + pad).astype(np.int32), 1)
    ring = cv2.dilate(inside, ring_kernel) - inside
    whole = int(ring.sum())
    ring, inside = ring[pad:-pad, pad:-pad], inside[pad:-pad, pad:-pad]
    if not inside.any() or ring.sum() < MIN_RING_INSIDE * whole:
        return False
    return float(np.median(small[ring > 0])) <= MAX_RING_RATIO * max(1.0, float(np.median(small[inside > 0])))


def _ordered(corners: np.ndarray) -> np.ndarray:
    """A convex quadrilateral's corners (in outline order) as top-left, top-right, bottom-right,
    bottom-left: clockwise on the image, from the corner nearest its top-left."""
    x, y = corners[:, 0], corners[:, 1]
    if float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) < 0:  # anticlockwise on the image
        corners = corners[::-1]
    return np.roll(corners, -int(np.argmin(corners.sum(axis=1))), axis=0).astype(np.float32)


def _angles_plausible(corners: np.ndarray) -> bool:
    """Whether every corner's angle is within MAX_CORNER_SKEW of a right angle, as a rectangle's
    seen at an angle are (a region's outline cut at a slant is not a screen)."""
    for i in range(4):
        a, b = corners[i - 1] - corners[i], corners[(i + 1) % 4] - corners[i]
        norms = float(np.hypot(*a) * np.hypot(*b))
        if norms < 1e-6:
            return False
        angle = np.degrees(np.arccos(np.clip(float(a @ b) / norms, -1.0, 1.0)))
        if abs(angle - 90.0) > MAX_CORNER_SKEW:
            return False
    return True
