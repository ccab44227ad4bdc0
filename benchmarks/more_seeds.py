"""The hard kinds of edit again, at more random positions: tuning material from the TUNE half.

    python benchmarks/more_seeds.py [--kinds crop_50,crop_logo_recompress,screen_photo] [--seeds 5]
                                    [--first-seed 1] [--size 1000] [--half tune|report]

match_quality.py makes one re-publication per photograph and kind, so on the tune half a kind
is 66 queries, and a kind that misses 3 says little about why. This makes SEEDS more of each
(another crop position, logo, screen angle...) for every indexed tune photograph, checks them
against the tune half's cached ledger of --size items (run `match_quality.py --half tune --sizes
1000` first, or 10000), and prints recall per kind and every miss by photograph, so that misses
which gather on a few pictures show.

With --half report it measures instead of tuning: a kind's recall over 67 queries is known only to
within several points (64 of 67 has a 95% interval of 0.88-0.98), so the report half's recall is
given again over SEEDS x 67 queries, with its Wilson interval, and no miss is named (nothing is
tuned on the report half; run `match_quality.py --half report --sizes 1000` first).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe  # noqa: E402


def main() -> None:
    from edits import EDITS, STRESS_EDITS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", default="crop_50,crop_logo_recompress,screen_photo",
                    help="kinds of benchmarks/edits.py: the table's (EDITS) or stress kinds beyond it "
                         f"(STRESS_EDITS: {', '.join(STRESS_EDITS)})")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--size", type=int, default=1000, help="the cached tune ledger of this many items")
    ap.add_argument("--first-seed", type=int, default=1, help="start here, to add seeds to an earlier run's")
    ap.add_argument("--half", choices=("tune", "report"), default="tune",
                    help="report: recall with its 95%% interval only, no miss named")
    args = ap.parse_args()
    print(describe())
    import match_quality as mq

    from provenance import Ledger
    from provenance.check import Checker

    work = mq.CACHE / args.half
    db = work / f"ledger-{args.size}.db"
    if not db.exists():
        sys.exit(f"{db}: run `python benchmarks/match_quality.py --half {args.half} --sizes {args.size}` first")
    indexed, never = mq.build_sets(args.half)
    kinds = args.kinds.split(",")
    edits = {**EDITS, **STRESS_EDITS}
    with Ledger(db, readonly=True) as ledger:  # other runs may read it at the same time
        item_of = {mq._key(p): i for p, i in mq._items_by_path(ledger).items()}
        checker = Checker(ledger)
        hits, totals, misses, latencies = Counter(), Counter(), Counter(), []
        missed_seeds: dict[tuple[str, str], list[int]] = defaultdict(list)
        for photo in indexed:
            want = item_of[f"indexed/{photo.name}.jpg"]
            for kind in kinds:
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    path = mq._save_made(
                        lambda: _made(edits[kind], kind, photo, never, random.Random(f"{photo.name}-{kind}-extra{seed}")),
                        work / "more-seeds" / kind / f"{photo.name}-{seed}.jpg", 92)
                    t = time.perf_counter()
                    found = want in [m.item_id for m in checker.check_path(str(path)).matches]
                    latencies.append(time.perf_counter() - t)
                    totals[kind] += 1
                    hits[kind] += found
                    if not found:
                        misses[(kind, photo.name)] += 1
                        missed_seeds[(kind, photo.name)].append(seed)
    seeds = f"seeds {args.first_seed}-{args.first_seed + args.seeds - 1}"
    median = 1000 * sorted(latencies)[len(latencies) // 2]
    print(f"{len(indexed)} {args.half} photographs x {seeds}, {args.size} items indexed; median check {median:.0f} ms")
    for kind in kinds:
        low, high = wilson_interval(hits[kind], totals[kind])
        print(f"{kind:22s} {hits[kind] / totals[kind]:.3f}  {hits[kind]}/{totals[kind]}  95% {low:.3f}-{high:.3f}")
    if args.half == "report":
        return
    print("misses by photograph:")
    for (kind, name), n in sorted(misses.items()):
        seeds = " ".join(map(str, missed_seeds[(kind, name)]))
        print(f"  {kind:22s} {name:32s} {n} of {args.seeds}: seeds {seeds}")


def _made(edit, kind: str, photo, never: list, rng: random.Random):
    """`photo` re-published by `edit`; a two-picture collage's other half is a never-indexed
    photograph of the same half, as in match_quality.py."""
    if kind.startswith("collage_half"):
        return edit(photo.image, rng, other=never[rng.randrange(len(never))].image)
    return edit(photo.image, rng)


def wilson_interval(hits: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a recall of hits in total."""
    if total == 0:
        return 0.0, 1.0
    share = hits / total
    centre = share + z * z / (2 * total)
    spread = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    scale = 1 + z * z / total
    return (centre - spread) / scale, (centre + spread) / scale


if __name__ == "__main__":
    main()
