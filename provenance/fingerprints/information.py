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
#: benchmarks/information_gate.py on the tune half: flat fields, linear and radial gradients
#: and near-blank pages score 0.002-0.045; the 71 photographs score 0.107-0.652 whole, but a 50%
#: crop of a smooth sky tile falls to 0.035, so the gate sits just under it at 0.03 and catches
#: the flat fields and gradients. Near-blank pages (0.013-0.045; PDQ quality < 50) and
#: checkerboards (0.005-0.39) that pass it are left to the matchers' own gates: PDQ's quality
#: floor and the local matcher's verification (benchmarks/match_quality.py counts them as
#: never-indexed queries: a match is a false match).
MIN_INFORMATION = 0.03

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
