"""Where the low-information gate sits: information scores of photographs vs degenerate images.

    python benchmarks/information_gate.py [--half tune]

Prints the score range of the photos of one half (whole, and under every kind of edit, since a
re-publication must not fall below the gate either) and of the degenerate images
(benchmarks/edits.py DEGENERATE), and where fingerprints.information.MIN_INFORMATION lies.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe  # noqa: E402
from provenance.fingerprints.information import MIN_INFORMATION, information_score  # noqa: E402
from provenance.media import decode_image  # noqa: E402


def score(img) -> float:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=90)
    return information_score(decode_image(buf.getvalue()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--half", choices=("tune", "report"), default="tune")
    args = ap.parse_args()
    from edits import DEGENERATE, EDITS
    from photos import load_photos, split_halves

    print(describe())
    tune, report = split_halves(load_photos())
    photos = tune if args.half == "tune" else report
    scores = defaultdict(list)
    for p in photos:
        scores["photo"].append(score(p.image))
        for kind, edit in EDITS.items():
            scores[f"photo:{kind}"].append(score(edit(p.image, random.Random(p.name))))
    for kind, make in DEGENERATE.items():
        for j in range(10):
            scores[f"degenerate:{kind}"].append(score(make(random.Random(j))))
    print(f"gate MIN_INFORMATION = {MIN_INFORMATION}")
    print(f"{'set':34s} {'n':>4s} {'min':>6s} {'median':>7s} {'max':>6s} {'below gate':>10s}")
    for name, vals in scores.items():
        vals.sort()
        below = sum(v < MIN_INFORMATION for v in vals)
        print(f"{name:34s} {len(vals):4d} {vals[0]:6.3f} {vals[len(vals) // 2]:7.3f} {vals[-1]:6.3f} {below:10d}")


if __name__ == "__main__":
    main()
