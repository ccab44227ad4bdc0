"""Posts of one app on both sides: false matches that rest on the app's interface.

    python benchmarks/one_app.py [--half tune|report] [--seeds 2]

match_quality.py checks re-publications against an archive of photographs, so the interface
around a picture (status bar, header, avatars, buttons, the navigation bar) is only ever on the
query's side. Archives in this field hold screenshots and phone photos of posts too, of a few
apps, and two posts of one app share their whole interface: a match resting on it is false.

This builds, from the photographs of a half (benchmarks/photos.py), an archive of posts only:
for each photograph of the first set (the half's indexed ones), one screenshot of a post showing
it (edits.social_screenshot) and one phone photo of a screen showing such a post
(edits.screen_photo_of_post), scanned into a fresh SQLite ledger. It then checks, SEEDS times per
photograph and kind, new posts of the same two kinds:
- of the archive's photographs: found when a match is a post of the same photograph;
- of the half's never-indexed photographs: whose every match is false.
It prints the links the archive's scan recorded between posts of different photographs (false),
then per kind how many queries were found and how many had a false match (with a match to a post
of another photograph, on either set), and lists the false matches with their figures.
The queries' and the archive's posts come from different random draws (text, theme, angle).
Tune on --half tune; --half report only measures.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe  # noqa: E402

KINDS = ("social_screenshot", "screen_photo_of_post")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=("tune", "report"), default="tune")
    ap.add_argument("--seeds", type=int, default=2, help="queries per photograph and kind")
    args = ap.parse_args()
    print(describe())
    import match_quality as mq
    from edits import EDITS, STRESS_EDITS

    from provenance import Ledger, scan
    from provenance.check import Checker

    edits = {**EDITS, **STRESS_EDITS}
    indexed, never = mq.build_sets(args.half)
    work = mq.CACHE / args.half / "one-app"
    archive = {}  # a post's folder/name (match_quality._key) -> its photograph
    for photo in indexed:
        for kind in KINDS:
            path = mq._save_made(lambda: edits[kind](photo.image, random.Random(f"{photo.name}-{kind}-archive")),
                                 work / "archive" / kind / f"{photo.name}.jpg", 92)
            archive[mq._key(path)] = photo.name
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ledger.db"
        start = time.perf_counter()
        with Ledger(db) as ledger:
            scan(ledger, work / "archive")
        took = time.perf_counter() - start
        con = sqlite3.connect(db)
        photo_of = {item: archive[mq._key(path)] for item, path in con.execute("SELECT item_id, path FROM sighting")}
        links = con.execute("SELECT earlier_item_id, later_item_id FROM match_link").fetchall()
        con.close()
        wrong_links = sum(photo_of[a] != photo_of[b] for a, b in links)
        print(f"archive: {len(archive)} posts of {len(indexed)} photographs, scanned in {took:.0f} s; "
              f"{len(links)} links, {wrong_links} between posts of different photographs (false)")
        found, false, totals = Counter(), Counter(), Counter()
        listed = []
        with Ledger(db, readonly=True) as ledger:
            checker = Checker(ledger)
            for group, photos in (("archived", indexed), ("never", never)):
                for photo in photos:
                    for kind in KINDS:
                        for seed in range(1, args.seeds + 1):
                            path = mq._save_made(
                                lambda: edits[kind](photo.image, random.Random(f"{photo.name}-{kind}-query{seed}")),
                                work / "queries" / kind / f"{photo.name}-{seed}.jpg", 92)
                            matches = checker.check_path(str(path)).matches
                            wrong = [m for m in matches if photo_of[m.item_id] != photo.name]
                            totals[group, kind] += 1
                            found[group, kind] += len(wrong) < len(matches)
                            false[group, kind] += bool(wrong)
                            listed += [(path.name, photo_of[m.item_id], m) for m in wrong]
    print(f"{'queries':34s} {'found':>12s} {'with a false match':>20s}")
    for group in ("archived", "never"):
        for kind in KINDS:
            n = totals[group, kind]
            shown = f"{found[group, kind]}/{n}" if group == "archived" else "-"
            print(f"{kind + ' of ' + group + ' photos':34s} {shown:>12s} {false[group, kind]:>14d}/{n}")
    print(f"queries with a false match: {sum(false.values())} of {sum(totals.values())}")
    for name, other, m in listed:
        ev = m.evidence or {}
        print(f"  false: {name} -> a post of {other}: {m.method} {ev.get('look', '')} "
              f"{ev.get('inliers', m.distance)} inliers{mq._evidence_summary(ev)}")


if __name__ == "__main__":
    main()
