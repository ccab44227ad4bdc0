"""How the chain reads the links a scan wrote whose later file shows part of the earlier one.

    python benchmarks/scan_links.py --half tune --keep /tmp/tune.db   # first: a scan's ledger
    python benchmarks/surround_verdicts.py /tmp/tune.db

A copy that shows part of an earlier file is a crop of it, or the earlier file frames that part
(a caption banner, bars, a page) or joins it to other pictures (a collage): chain_facts.py asks
surround.py which. This reads every such link of a ledger that `scan_links.py --keep` kept, names
each file by the archive folder scan_links.py put it in (the originals, a kind of re-publication,
the never-indexed photographs' own), and prints:

1. the seam test (`surround.seams`) on the links from a whole copy of a photograph (the original,
   or recompressed, resized, recoloured, grayscale, mirrored, with a logo) to the collage holding
   it, which should find seams, and on the links from a crop of a photograph (to 80%, 50%, with
   a logo, rotated) to a whole copy, which should not; with each of its parts switched off;
2. the same test on crops of five scikit-image photographs under a smooth synthetic sky, cut
   from 20 px above to 10 px under the horizon, which should not find seams;
3. the verdict the chain takes for each kind of pair (`LinkFacts.cut_away`), with the border test
   of surround.py counting everywhere (before) and only where what is left out runs along the
   picture's edges (now), and the seam test.

Tune half only: its photographs' names are checked (nothing is tuned on the report half).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
from PIL import Image  # noqa: E402

import match_quality as mq  # noqa: E402
from machine import describe as describe_machine  # noqa: E402
from provenance import Ledger, local_features, surround  # noqa: E402
from provenance.chain_facts import is_cropped, judge_cut, link_facts, orb_evidence, shows_bands  # noqa: E402

WHOLE = {"recompress_q30", "resize_40", "colour_shift", "grayscale", "mirror", "logo_corner"}
CROPS = {"crop_50", "crop_80", "crop_logo_recompress", "rotate_5"}
FRAMED = {"collage_half", "caption_banner", "letterbox"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ledger", type=Path, help="a SQLite ledger kept by scan_links.py --half tune --keep")
    args = ap.parse_args()
    print(describe_machine())
    folder, size = _files(args.ledger)
    indexed, never = mq.build_sets("tune")
    tune = {photo.name for photo in indexed + never}
    if not {Path(name).stem for name in folder.values()} & tune:
        sys.exit(f"{args.ledger}: not a ledger of the tune half's archive (scan_links.py --half tune --keep)")
    with Ledger(args.ledger, readonly=True) as ledger:
        cuts = _cut_links(ledger, folder)
        blobs = ledger.feature_blobs({i for e, l, *_ in cuts for i in (e, l)},
                                     local_features.ALGORITHM, local_features.VERSION)
    features = {i: local_features.LocalFeatures.from_bytes(b) for i, b in blobs.items()}
    cuts = [c for c in cuts if c[0] in features and c[1] in features]
    kinds = {i: _kind(name) for i, name in folder.items()}

    halves = [c for c in cuts if kinds[c[0]] == "collage_half" and _from_indexed(folder[c[0]])
              and kinds[c[1]] == "whole" and _from_indexed(folder[c[1]])]
    crops = [c for c in cuts if kinds[c[0]] == "whole" and kinds[c[1]] == "crop"]
    horizon = _horizon_crops()
    print(f"\n1-2. seam test: {len(halves)} links from a whole copy to the collage holding it, {len(crops)} from "
          f"a crop to a whole copy, {len(horizon)} crops along a level horizon")
    print(f"{'test':58s} {'collage halves':>16s} {'crops':>12s} {'horizon':>8s}")
    variants = [("step near the side, lines -5..3", dict(SEAM_NEAR=(-5, 4), SEAM_TEXTURE=0.0), False),
                ("lines -3..2", dict(SEAM_TEXTURE=0.0), False),
                ("and the copy's own edge", dict(SEAM_TEXTURE=0.0), True),
                (f"and texture on both hands (>= {surround.SEAM_TEXTURE}): now", {}, True)]
    for name, constants, with_part in variants:
        with _patched(surround, constants):
            def found(links):
                return sum(surround.seams(features[e], box, size[e], features[l] if with_part else None,
                                          mirrored=mirrored) for e, l, box, mirrored, _ in links)
            on_horizon = sum(surround.seams(whole, box, whole_size, part if with_part else None)
                             for whole, box, whole_size, part in horizon)
            print(f"{name:58s} {found(halves):>7d} of {len(halves):<6d} {found(crops):>4d} of {len(crops):<5d} "
                  f"{on_horizon:>3d} of {len(horizon)}")

    print("\n3. the chain's reading (LinkFacts.cut_away) of links from a copy showing part of another")
    table: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for e, l, box, mirrored, framed in cuts:
        pair = (kinds[e], kinds[l])
        if pair not in (("whole", "crop"), *((f, "whole") for f in FRAMED), *((f, "crop") for f in FRAMED)):
            continue
        before = _cut_away_before(features[e], box, size[e])
        now = judge_cut(features[e], box, size[e], None if framed else features[l], mirrored=mirrored)
        table[pair][(before, now)] += 1
    print(f"{'earlier':16s} {'later':8s} {'links':>6s}  before: frame / crop / undecided   now: frame / seam / crop / "
          "undecided")
    for (earlier, later), counts in sorted(table.items()):
        def total(position, verdict):
            return sum(n for key, n in counts.items() if key[position] == verdict)
        print(f"{earlier:16s} {later:8s} {sum(counts.values()):6d}  {total(0, 'frame'):13d} / {total(0, 'crop'):4d} / "
              f"{total(0, None):9d}   {total(1, 'frame'):10d} / {total(1, 'seam'):4d} / {total(1, 'crop'):4d} / "
              f"{total(1, None):9d}")


def _files(db: Path) -> tuple[dict[int, str], dict[int, tuple[int, int]]]:
    """Each item's archive path (below archive/) and size."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    folder = {i: p.split("/archive/", 1)[1] for i, p in con.execute("SELECT item_id, path FROM sighting")
              if "/archive/" in p}
    size = {i: (w, h) for i, w, h in con.execute("SELECT id, width, height FROM item")}
    con.close()
    return folder, size


def _cut_links(ledger: Ledger, folder: dict[int, str]) -> list[tuple[int, int, tuple, bool, bool]]:
    """(earlier, later, the part shown in the earlier's pixels, mirrored, framed) of every accepted
    link between files of the archive whose later file shows only part of the earlier one."""
    out = []
    for row in ledger.link_facts(folder):
        link = link_facts(row)
        orb = orb_evidence(link)
        if orb is None or not is_cropped(orb) or len(orb.get("visible_in_original") or ()) != 4:
            continue
        if link.earlier in folder and link.later in folder:
            out.append((link.earlier, link.later, tuple(orb["visible_in_original"]), bool(orb.get("mirrored")),
                        "framed" in (orb.get("edits") or [])))
    return out


def _kind(name: str) -> str:
    """whole, crop, one of FRAMED, or the folder's kind, for a file of the archive."""
    kind = Path(name).parent.name
    if Path(name).parts[0] == "a-indexed" or kind in WHOLE or kind == "photo":
        return "whole"
    return "crop" if kind in CROPS else kind


def _from_indexed(name: str) -> bool:
    """An indexed photograph or one of its re-publications (not a never-indexed photograph's)."""
    return Path(name).parts[0] in ("a-indexed", "c-republished")


def _cut_away_before(picture, box, box_size) -> str | None:
    """LinkFacts.cut_away as chain_facts.judge_surrounds decided it before the seam test: the
    border test counting everywhere, the flat test on bands only."""
    x0, y0, x1, y1 = box
    return surround.surround(picture, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], box_size,
                             flat_test=shows_bands(box, box_size))


def _horizon_crops() -> list[tuple]:
    """(features of the photograph, the part kept, its size, features of the crop) for five
    photographs under a smooth sky, cut from 20 px above to 10 px under the horizon, the land
    kept, upright and upside down."""
    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
        land = np.asarray(Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize((900, 380)), float)
        sky = np.linspace(235, 160, 220)[:, None, None] * np.ones((1, 900, 3))
        upright = Image.fromarray(np.concatenate([sky, land]).astype(np.uint8))
        flipped = upright.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        for picture, boxes in ((upright, [(0, 220 + cut, 900, 600) for cut in (-20, -10, -5, 0, 5, 10)]),
                               (flipped, [(0, 0, 900, 380 - cut) for cut in (-20, -10, -5, 0, 5, 10)])):
            whole = local_features.extract(picture)
            out += [(whole, box, picture.size, local_features.extract(picture.crop(box))) for box in boxes]
    return out


@contextmanager
def _patched(module, constants: dict):
    saved = {name: getattr(module, name) for name in constants}
    try:
        for name, value in constants.items():
            setattr(module, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


if __name__ == "__main__":
    main()
