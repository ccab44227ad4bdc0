"""How long `provenance reindex` takes after an upgrade, beside the scan that first indexed the files.

    python benchmarks/reindex_speed.py [--count 300] [--workers N]

Builds COUNT distinct 1-2 MP JPEGs from the photo corpus (as scan_throughput.py does), scans them
into a fresh SQLite ledger with N workers, then simulates installing a build whose PDQ, pHash and
ORB features changed (their versions are set to new values in this process, which the worker
processes inherit) and re-indexes every item: once on one process, then (after a second simulated
upgrade) on N. Then the same after upgrades of PDQ and pHash alone, which read each file for its
global hashes only, and after an upgrade of the parts finder, which reads each image for its parts
alone (parts.py: the picture framed in it or on a screen photographed in it). Prints the machine, wall times and items per second, and checks that nothing
is left outdated and each item holds exactly one row per algorithm. Re-indexing reads and
fingerprints each file again but matches nothing, so it should cost less than the first scan.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe  # noqa: E402
from scan_throughput import make_archive  # noqa: E402


def upgrade(version: str, local: bool) -> None:
    """What a new build does: new versions of the changed algorithms (see reindex.current_versions)."""
    from provenance import local_features
    from provenance.fingerprints import PDQ, PHash

    PDQ.version = PHash.version = version
    if local:
        local_features.VERSION = version


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    print(describe())
    from sqlalchemy import text

    from provenance import Ledger, outdated_items, reindex, scan

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "archive"
        paths = make_archive(folder, args.count)
        print(f"archive: {len(paths)} JPEGs of 1-2 MP")
        with Ledger(Path(tmp) / "ledger.db") as ledger:
            t = time.perf_counter()
            summary = scan(ledger, folder, workers=args.workers)
            first = time.perf_counter() - t
            print(f"{'first scan':24s} {first:7.1f} s  {summary.new_items / first:6.1f} items/s  "
                  f"({args.workers} workers; fingerprints, matches, records)")
            rounds = [(local, workers) for local in (True, False) for workers in (1, args.workers)]
            for round_, (local, workers) in enumerate(rounds, start=1):
                upgrade(f"bench{round_}", local)
                t = time.perf_counter()
                done = reindex(ledger, workers=workers)
                took = time.perf_counter() - t
                label = f"reindex{'' if local else ' hashes'}, {workers} proc"
                print(f"{label:24s} {took:7.1f} s  {done.refreshed / took:6.1f} items/s  "
                      f"({done.refreshed} of {done.outdated} re-indexed, {len(done.unreadable)} without a copy)")
                assert not outdated_items(ledger) and done.refreshed == summary.new_items
            # a new parts finder (parts.py): every image is read again for its parts alone
            ledger.set_parts_finder("an-older-finder")
            ledger.commit()
            t = time.perf_counter()
            done = reindex(ledger, workers=args.workers)
            took = time.perf_counter() - t
            images = summary.new_items
            print(f"{'reindex parts, ' + str(args.workers) + ' proc':24s} {took:7.1f} s  {images / took:6.1f} items/s  "
                  f"(every image searched for parts, {done.parts_added} found, {len(done.unreadable)} without a copy)")
            assert not outdated_items(ledger) and done.refreshed == 0
            rows = ledger.session.execute(text(
                "SELECT max(n) FROM (SELECT count(*) AS n FROM fingerprint GROUP BY item_id, algorithm) AS c")).scalar()
            assert rows == 1, rows


if __name__ == "__main__":
    main()
