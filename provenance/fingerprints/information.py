"""How much picture an image holds: low-information images (flat colour, gradients,
checkerboards, near-blank pages) must never match anything, because to a perceptual hash every
such image looks like every other one.

The score is how badly the image's fine detail compresses: a 128x128 grey copy minus a blurred
copy of itself leaves the texture and edges, and zlib squeezes that residue to almost nothing
for flat fields, smooth gradients and regular patterns, but not for a photograph.
"""

from __future__ import annotations

import zlib

import numpy as np
from PIL import Image, ImageFilter

from ..media import DecodedImage

#: Below this score an image is "low information" and never matched. Measured by
#: benchmarks/information_gate.py: generated degenerate images (flat, linear and radial
#: gradients, checkerboards of 8-100 px, a near-blank page) scored 0.002-0.048; the least
#: detailed photographs (scikit-image's moon 0.25, horse silhouette 0.27, rocket 0.27) and a
#: text page (0.37) lie far above. 0.12 sits in the gap with room on both sides.
MIN_INFORMATION = 0.12

_SIDE = 128


def information_score(decoded: DecodedImage | Image.Image) -> float:
    """Compressed size / raw size of the image's fine-detail residue (0 = none, ~0.7 = noise)."""
    image = decoded.image if isinstance(decoded, DecodedImage) else decoded
    grey = image.convert("L").resize((_SIDE, _SIDE), Image.Resampling.BOX)
    sharp = np.asarray(grey, dtype=np.int16)
    smooth = np.asarray(grey.filter(ImageFilter.GaussianBlur(2)), dtype=np.int16)
    residue = np.clip(np.abs(sharp - smooth) // 2, 0, 63).astype(np.uint8)
    return len(zlib.compress(residue.tobytes(), 9)) / residue.size


def is_low_information(score: float) -> bool:
    """True when an image with this information score must not take part in matching."""
    return score < MIN_INFORMATION
