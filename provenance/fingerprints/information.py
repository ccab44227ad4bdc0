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

#: Below this score an image is "low information" and never matched. Set on the tune half's
#: first 71 photographs: flat fields, linear and radial gradients and near-blank pages scored
#: 0.002-0.045, the photographs 0.107-0.652 whole, a 50% crop of a smooth sky tile 0.035; the
#: gate sat just under it. Measured again (benchmarks/information_gate.py) on the 132 photographs
#: of today's tune half, from the hash picture at zlib's default level: 0.050-0.656 whole, and
#: one 50% crop of an almost empty sky falls under the gate (0.009). Near-blank pages
#: (0.013-0.046; PDQ quality < 50) and checkerboards (0.002-0.215) that pass it are left to the
#: matchers' own gates: PDQ's quality floor and the local matcher's verification
#: (benchmarks/match_quality.py counts them as never-indexed queries: a match is a false match).
MIN_INFORMATION = 0.03

_SIDE = 128


def information_score(decoded: DecodedImage | Image.Image) -> float:
    """Compressed size / raw size of the image's fine-detail residue (0 = none, ~0.7 = noise)."""
    image = decoded.hash_picture if isinstance(decoded, DecodedImage) else decoded
    grey = image.convert("L").resize((_SIDE, _SIDE), Image.Resampling.BOX)
    sharp = np.asarray(grey, dtype=np.int16)
    smooth = np.asarray(grey.filter(ImageFilter.GaussianBlur(2)), dtype=np.int16)
    residue = np.clip(np.abs(sharp - smooth) // 2, 0, 63).astype(np.uint8)
    return len(zlib.compress(residue.tobytes())) / residue.size  # level 9: 4x the time, the same gate decisions


def is_low_information(score: float) -> bool:
    """True when an image with this information score must not take part in matching."""
    return score < MIN_INFORMATION
