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


def surround(later: LocalFeatures, quad: list[list[float]], quad_size: tuple[float, float], *,
             flat_test: bool = True) -> str | None:
    """"frame", "crop" or None for the earlier picture at ``quad`` inside the later one.

    ``quad`` is the earlier picture's corners in the later one, in pixels of an image of
    ``quad_size`` (width, height) showing the later picture. Without ``flat_test``, only a border
    along the outline makes a frame: the flat test also calls a frame the smooth sky that a crop
    cut away above a textured picture (chain_facts.judge_surrounds takes it only where what is
    left out runs along the picture's edges).
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
        return "frame"
    rim_over_outside = float(gradient[rim].mean()) / (float(gradient[outside].mean()) + 1e-6)
    if ratio <= CROP_RATIO and rim_over_outside <= MAX_RIM_OVER_OUTSIDE:
        return "crop"
    return None


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
