"""pHash (imagehash's DCT hash, 64 bits): a second global hash beside PDQ, cheap and widely shared."""

from __future__ import annotations

import imagehash
from PIL import Image

from ..media import DecodedImage
from .base import Fingerprint, hamming_hex


class _PHash:
    name = "phash"
    # imagehash 4.x: 8x8 DCT hash, hex as imagehash's str(); 4.0 changed the hex encoding,
    # so a major upgrade of imagehash must bump this version. 2: from the hash picture
    # (media.HASH_SIDE) instead of the working image (up to 4 bits moved).
    version = "2"
    bits = 64
    #: Distance at or below which a pHash corroborates a match found by another stage (never
    #: alone). Tune half: true pairs under re-encoding, resizing, grayscale and colour shifts at
    #: <= 8; unrelated photographs >= 14; unrelated generated scenes as close as 0.
    match_threshold = 8

    def compute(self, decoded: DecodedImage | Image.Image) -> Fingerprint:
        """The 64-bit pHash of the hash picture (or of a picture at hand, such as a thumbnail).

        imagehash resizes straight to 32x32 with a Lanczos filter, whose cost grows with the
        input; a box reduction to >= 128 px first gives the same hash bits (but for rounding at
        the odd bit) at a fifth of the cost.
        """
        image = decoded.hash_picture if isinstance(decoded, DecodedImage) else decoded
        factor = max(1, min(image.size) // 128)
        small = image.convert("L").reduce(factor) if factor > 1 else image
        return Fingerprint(self.name, self.version, str(imagehash.phash(small)), None)

    def distance(self, a: str, b: str) -> int:
        """Hamming distance of the 64 bits."""
        return hamming_hex(a, b)


PHash = _PHash()
