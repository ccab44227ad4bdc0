"""How far the global hashes move when computed from the hash picture instead of the working image.

    python benchmarks/hash_picture.py

PDQ, pHash and the information score are computed from the hash picture (media.HASH_SIDE: the
decode reduced by a whole factor to a longest side of 512-1023 px); before, from the 1,024-px
working image. How far the same file's values move decided whether that needed new versions
of PDQ and pHash (it did: PDQ moved by up to 20 bits). This prints, for every corpus photograph
(both halves) saved as a JPEG at its own size and scaled to 1.5 MP, the distance between the
value from the working image and the value from the hash picture, beside the match thresholds,
and the time each takes (the information score is computed by today's function on both).
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from machine import describe  # noqa: E402
from provenance.fingerprints import PDQ, PHash, information_score  # noqa: E402
from provenance.fingerprints.pdq import pdq_dihedral  # noqa: E402
from provenance.media import decode_image  # noqa: E402


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _percentiles(values: list[float]) -> str:
    v = np.sort(np.asarray(values, dtype=float))
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return f"median {pick(0.5):5.1f}  p95 {pick(0.95):5.1f}  max {v[-1]:5.1f}"


def main() -> None:
    from photos import load_photos

    print(describe())
    files = []
    for p in load_photos():
        files.append(_jpeg(p.image))
        k = (1.5e6 / (p.image.width * p.image.height)) ** 0.5
        files.append(_jpeg(p.image.resize((round(p.image.width * k), round(p.image.height * k)),
                                          Image.Resampling.BICUBIC)))
    pdq_d, phash_d, info_d = [], [], []
    old_s = new_s = 0.0
    for data in files:
        decoded = decode_image(data, "x.jpg")
        t = time.process_time()
        old_pdq = pdq_dihedral(np.asarray(decoded.image))[0][0]
        old_phash = PHash.compute(decoded.image).value
        old_info = information_score(decoded.image)
        old_s += time.process_time() - t
        t = time.process_time()
        new_pdq = PDQ.compute(decoded).value
        new_phash = PHash.compute(decoded).value
        new_info = information_score(decoded)
        new_s += time.process_time() - t
        pdq_d.append(PDQ.distance(old_pdq, new_pdq))
        phash_d.append(PHash.distance(old_phash, new_phash))
        info_d.append(abs(old_info - new_info))
    n = len(files)
    print(f"{n} JPEGs: {n // 2} photographs at their own size and at 1.5 MP")
    print(f"PDQ bits moved     {_percentiles(pdq_d)}   (match threshold {PDQ.match_threshold} of {PDQ.bits})")
    print(f"pHash bits moved   {_percentiles(phash_d)}   (corroboration threshold {PHash.match_threshold} of {PHash.bits})")
    print(f"information moved  {_percentiles([1000 * d for d in info_d])}   (x 0.001; the gate is at 0.030)")
    print(f"hashes + information, as computed today: {1000 * old_s / n:.1f} ms per file on the working image, "
          f"{1000 * new_s / n:.1f} ms on the hash picture (which the decode makes)")


if __name__ == "__main__":
    main()
