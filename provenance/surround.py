"""Is a picture shown inside a larger one framed by something else, or is it a crop of it?

When the matcher finds the whole of an earlier item inside a later one with more around it
("framed"), either the later is the earlier with a frame, caption, banner or screenshot around
it (the later derives from the earlier), or the earlier was cut out of the later (the earlier
derives from the later). The matcher's evidence cannot tell which; the later item's stored
grayscale template (128 px, local_features.py) can. Across the edge of a picture pasted into a
frame the image jumps (a border runs along the outline); across the edge of a crop it goes on
as it does nearby. So the gradient along the embedded picture's outline is compared with the
gradient in the bands just inside and just outside it:

- ratio >= ``FRAME_RATIO``: a border: "frame";
- ratio <= ``CROP_RATIO``, and the band outside is about as textured as the picture's own rim
  (a flat frame the colour of the picture's edge shows no border): "crop";
- otherwise, or with too little outline away from the image's edges: None, undecided.

Before the gradient test, one that a caption banner cannot fool: a banner under a picture whose
lower edge is as dark (or as bright) as the banner shows no border, and its text is as textured
as the picture, so the gradient test called such banners crops. But what a frame adds is mostly
one flat colour (a banner's, a post's background, letterbox bars), where the part of a photograph
that a crop cuts away is not. So when at least ``FLAT_SURROUND`` of the later picture outside the
earlier lies within a few grey levels of one value, and the earlier picture itself is flatter by
less than ``FLAT_MARGIN`` of that, the verdict is "frame". Measured by
``benchmarks/surround_cases.py`` on the same nine photographs: crops cut away 0.11-0.50 flat
(0.85-0.90 around the Hubble field, whose own picture is as flat: no verdict from this test);
white, navy and black caption banners and screenshot frames 0.70-0.99, where the gradient test
had called 13 of 27 banners crops.

Measured on nine scikit-image photographs (coffee, chelsea, astronaut, rocket,
immunohistochemistry, camera, hubble_deep_field at 60 %, coins, clock): 45 crops (central 50-85 %
of a side, and an off-centre one touching an edge) gave ratios 0.77-1.13; white and black borders
and light and dark phone-screenshot frames gave 1.42-5.65, except the dark frame around the
mostly black Hubble field (0.80), which the texture condition leaves undecided (rim/outside 84,
crops <= 1.9).

Between the pictures of a collage the image jumps too, but a gutter is a pixel or two of the
template, or none, and the pictures on either hand are as textured as each other: neither test
sees a frame there. ``seams`` looks for that jump instead, at one straight line along the side of
the part a copy shows (chain_facts reads a copy showing one picture of a collage by it).
"""

from __future__ import annotations

import cv2
import numpy as np

from .local_features import LocalFeatures

FRAME_RATIO = 1.3
CROP_RATIO = 1.2
#: Most texture the picture's rim may have over the band outside it for a "crop" verdict.
MAX_RIM_OVER_OUTSIDE = 2.5
#: Outline pixels (in the template) needed away from the image edges.
MIN_OUTLINE = 30
#: Share of the surround within FLAT_LEVELS grey levels of one value for a "frame" verdict, how
#: much flatter than the picture inside it the surround must be, and the fewest template pixels
#: of surround that the test needs.
FLAT_SURROUND = 0.65
FLAT_MARGIN = 0.3
FLAT_LEVELS = 6
MIN_SURROUND = 100
#: A seam (`seams`): along each of SEAM_SEGMENTS stretches of a side, the largest change between
#: template lines two apart within SEAM_NEAR lines of the side (a gutter is 0-2 template px wide,
#: and the side the matcher found can be a px or two off) is compared with the largest change in
#: each of two windows as wide, from SEAM_DEEP lines inside. A side is a seam when the median
#: stretch's ratio reaches SEAM_RATIO, the stretches' largest changes lie within SEAM_ALIGN lines
#: of each other (one straight line, as a seam is and a horizon seldom is), and both hands of it
#: have fine texture (SEAM_TEXTURE, `_texture`: a crop cut along a straight, level horizon leaves
#: a smooth sky on one hand; a quarter of the 8-px blocks of five tune photographs with much sky
#: lie under 0.7-2.5). Tune half, benchmarks/surround_verdicts.py on a scan_links.py ledger: of 351
#: links from a copy of a whole photograph to a collage holding it, 308 find seams (312 without
#: the texture test, 318 without the copy's edge either, 299 looking at lines -5..3 of the side);
#: of 1,308 links from a crop (50%, 80%, with a logo, rotated) to its photograph, none. Of 60
#: crops of five photographs under a smooth sky, cut from 20 px above to 10 px under the horizon,
#: 22 find seams without the copy's edge and the texture tests, 1 with them (benchmarks/RESULTS.md).
SEAM_SEGMENTS = 4
SEAM_NEAR = (-3, 3)
#: ... and where the copy showing the part looks for such a line along its own edge.
SEAM_AT_EDGE = (0, 4)
SEAM_DEEP = 5
SEAM_RATIO = 2.0
SEAM_ALIGN = 2
MIN_SEAM_SEGMENT = 8
SEAM_TEXTURE = 2.0
SEAM_TEXTURE_LINES = (3, 7)


def surround(later: LocalFeatures, quad: list[list[float]], quad_size: tuple[float, float], *,
             flat_test: bool = True, border_test: bool = True) -> str | None:
    """"frame", "crop" or None for the earlier picture at ``quad`` inside the later one.

    ``quad`` is the earlier picture's corners in the later one, in pixels of an image of
    ``quad_size`` (width, height) showing the later picture. Without ``flat_test``, only a border
    along the outline makes a frame: the flat test also calls a frame the smooth sky that a crop
    cut away above a textured picture. Without ``border_test``, only the flat test does: the
    border test also calls a frame a crop whose side runs along a strong edge in the picture.
    (chain_facts.judge_surrounds takes either, for a part that a later copy shows, only where
    what is left out runs along the picture's edges.)
    """
    t = later.template.astype(np.float32)
    th, tw = t.shape
    if len(quad) != 4 or quad_size[0] <= 0 or quad_size[1] <= 0:
        return None
    scale = np.array([tw / quad_size[0], th / quad_size[1]], dtype=np.float32)
    corners = np.round(np.asarray(quad, dtype=np.float32) * scale).astype(np.int32)
    mask = np.zeros((th, tw), np.uint8)
    cv2.fillPoly(mask, [corners], 1)
    gradient = np.hypot(cv2.Sobel(t, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(t, cv2.CV_32F, 0, 1, ksize=3))
    near_edge = np.zeros((th, tw), bool)
    near_edge[:2, :] = near_edge[-2:, :] = near_edge[:, :2] = near_edge[:, -2:] = True
    small, large = np.ones((3, 3), np.uint8), np.ones((7, 7), np.uint8)
    outline = (cv2.dilate(mask, small) - cv2.erode(mask, small)).astype(bool) & ~near_edge
    rim = mask.astype(bool) & ~cv2.erode(mask, large).astype(bool) & ~outline & ~near_edge
    outside = cv2.dilate(mask, large).astype(bool) & ~cv2.dilate(mask, small).astype(bool) & ~near_edge
    if flat_test and _flat_surround(t, mask):
        return "frame"
    if outline.sum() < MIN_OUTLINE or not rim.any() or not outside.any():
        return None
    nearby = float(np.concatenate([gradient[rim], gradient[outside]]).mean()) + 1e-6
    ratio = float(gradient[outline].mean()) / nearby
    if ratio >= FRAME_RATIO:
        return "frame" if border_test else None
    rim_over_outside = float(gradient[rim].mean()) / (float(gradient[outside].mean()) + 1e-6)
    if ratio <= CROP_RATIO and rim_over_outside <= MAX_RIM_OVER_OUTSIDE:
        return "crop"
    return None


def seams(picture: LocalFeatures, box: tuple[float, float, float, float],
          box_size: tuple[float, float], part: LocalFeatures | None = None, *, mirrored: bool = False) -> bool:
    """Does a straight seam run along every side of ``box`` that lies inside ``picture``?

    ``box`` (x0, y0, x1, y1, in pixels of an image of ``box_size`` showing the picture) is the
    part of it that another copy shows. A crop's sides cut through one picture, which goes on
    across them; where a collage's pictures meet, the image jumps along one straight line. So a
    copy showing the part of a collage inside seams is one of its pictures, not a crop of it.
    False when no side lies inside, or a side has too little picture on either hand to tell.

    Given the features of the copy showing just that ``part`` (``mirrored`` if it shows it
    mirrored), a side is no seam when the copy shows such a line along its own edge there: the
    line is in the picture (a level horizon just inside a crop's side), not between two pictures.
    """
    t = picture.template.astype(np.float32)
    th, tw = t.shape
    if not (np.isfinite(box_size).all() and box_size[0] > 0 and box_size[1] > 0):
        return False
    with np.errstate(all="ignore"):
        scaled = np.asarray(box, np.float64) * np.array([tw, th, tw, th]) / np.array([*box_size, *box_size])
    if scaled.shape != (4,) or not np.isfinite(scaled).all():
        return False
    x0, y0, x1, y1 = (float(v) for v in scaled)
    texture = np.abs(cv2.Laplacian(t, cv2.CV_32F, ksize=1))
    shown = None if part is None else part.template.astype(np.float32)
    sides = 0
    for position, vertical, inward in ((x0, True, 1), (x1, True, -1), (y0, False, 1), (y1, False, -1)):
        n = tw if vertical else th
        p = int(round(position))
        if not 0 <= p + inward * SEAM_NEAR[0] < n:
            continue  # the side runs along the picture's edge (or nearly)
        lo, hi = (y0, y1) if vertical else (x0, x1)
        lo, hi = max(int(round(lo)), 0), min(int(round(hi)), th if vertical else tw)
        if not _is_seam(t, p, inward, vertical, lo, hi) \
                or _texture(texture, p, inward, vertical, lo, hi) < SEAM_TEXTURE:
            return False
        if shown is not None:
            edge, edge_inward = (0, 1) if (inward == 1) != (vertical and mirrored) else (
                (shown.shape[1] if vertical else shown.shape[0]) - 1, -1)
            if _is_seam(shown, edge, edge_inward, vertical, 0, shown.shape[0] if vertical else shown.shape[1],
                        near=SEAM_AT_EDGE):
                return False
        sides += 1
    return sides > 0


def _is_seam(t: np.ndarray, p: int, inward: int, vertical: bool, lo: int, hi: int,
             near: tuple[int, int] | None = None) -> bool:
    """`seams` for one side: at line ``p`` of the template, the picture lying ``inward`` of it,
    the side running from ``lo`` to ``hi``; the step is looked for ``near`` it (lines; SEAM_NEAR)."""
    near = near or SEAM_NEAR
    width = SEAM_NEAR[1] - SEAM_NEAR[0]
    offsets = range(near[0], SEAM_DEEP + 2 * width)
    lines = [p + inward * k for k in offsets]
    touched = lines + [j + 2 * inward for j in lines]
    n = t.shape[1] if vertical else t.shape[0]
    if hi - lo < SEAM_SEGMENTS * MIN_SEAM_SEGMENT or min(touched) < 0 or max(touched) >= n:
        return False
    cuts = np.linspace(lo, hi, SEAM_SEGMENTS + 1).astype(int)
    ratios, places = [], []
    for a, b in zip(cuts[:-1], cuts[1:]):
        stretch = t[a:b, :].T if vertical else t[:, a:b]  # one row per template line across the side
        steps = dict(zip(offsets, (float(np.median(np.abs(stretch[j] - stretch[j + 2 * inward]))) for j in lines)))
        close = [steps[k] for k in range(*near)]
        deep = max(max(steps[k] for k in range(SEAM_DEEP, SEAM_DEEP + width)),
                   max(steps[k] for k in range(SEAM_DEEP + width, SEAM_DEEP + 2 * width)))
        place = int(np.argmax(close))
        ratios.append(close[place] / (deep + 1.0))
        places.append(place)
    return float(np.median(ratios)) >= SEAM_RATIO and max(places) - min(places) <= SEAM_ALIGN


def _texture(lap: np.ndarray, p: int, inward: int, vertical: bool, lo: int, hi: int) -> float:
    """The fine texture on the less textured hand of a side: the mean of ``lap`` (the template's
    absolute Laplacian) on the lines SEAM_TEXTURE_LINES away from it, outside and inside (a sky,
    smooth even where it darkens towards a horizon, has none; a photograph pasted beside another
    has some)."""
    n = lap.shape[1] if vertical else lap.shape[0]
    hands = []
    for sign in (-1, 1):
        lines = [p + sign * inward * k for k in range(*SEAM_TEXTURE_LINES) if 0 <= p + sign * inward * k < n]
        if not lines:
            return 0.0
        hands.append(float((lap[lo:hi, lines] if vertical else lap[lines, lo:hi]).mean()))
    return min(hands)


def flat_share(values: np.ndarray, levels: int = FLAT_LEVELS) -> float:
    """The largest share of ``values`` (grey levels) within ``levels`` of one value."""
    if values.size == 0:
        return 0.0
    counts = np.bincount(np.clip(values, 0, 255).astype(np.int64), minlength=256)
    return float(np.convolve(counts, np.ones(2 * levels + 1), "same").max()) / values.size


def _flat_surround(template: np.ndarray, mask: np.ndarray) -> bool:
    """Is what surrounds the earlier picture mostly one flat colour, unlike the picture itself?"""
    band = np.ones((5, 5), np.uint8)
    surround_px = template[~cv2.dilate(mask, band).astype(bool)]
    if surround_px.size < MIN_SURROUND:
        return False
    around = flat_share(surround_px)
    return around >= FLAT_SURROUND and around - flat_share(template[cv2.erode(mask, band).astype(bool)]) >= FLAT_MARGIN
