"""PDQ search latency and memory at 10,000, 100,000 and 1,000,000 indexed items.

    python benchmarks/search_latency.py [--sizes 10000,100000,1000000] [--queries 300]

Indexed hashes are generated: random 256-bit codes (what PDQ's decorrelated bits approximate),
plus planted near copies. Each query is a full `check`-style PDQ lookup: all 8 dihedral variants
of a hash within the match threshold. Printed per size: build time, save/load time of the
persisted index, median and 99th-percentile latency for multi-index hashing (index.HashIndex)
and for the brute-force scan it replaces, recall of the planted copies (must be 1.0: the two
indexes are exact), and memory per indexed item. Then the lookup of a part of a query (a framed
picture, a screen's: matcher.near_by_hash), 2 variants (upright and mirrored) within
PART_HASH_RADIUS bits, which scans every code (index.SCAN_BEYOND_SHARE): its median and the recall
of copies planted at that radius.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe  # noqa: E402
from provenance.fingerprints import PDQ  # noqa: E402
from provenance.index import BruteForceHashIndex, HashIndex  # noqa: E402
from provenance.matcher import PART_HASH_RADIUS  # noqa: E402


def _flip(code: np.ndarray, n: int, rng) -> np.ndarray:
    bits = np.unpackbits(code)
    pos = rng.choice(256, n, replace=False)
    bits[pos] ^= 1
    return np.packbits(bits)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    print(describe())
    rng = np.random.default_rng(42)
    print(f"{'items':>9s} {'build s':>8s} {'load s':>7s} {'MIH p50':>8s} {'MIH p99':>8s} {'scan p50':>9s} "
          f"{'recall':>7s} {'bytes/item':>10s} {'part p50':>9s} {'recall':>7s}")
    for size in (int(s) for s in args.sizes.split(",")):
        codes = rng.integers(0, 256, (size, 32), dtype=np.uint8)
        ids = np.arange(size, dtype=np.int64)
        t = time.perf_counter()
        index = HashIndex(PDQ.bits)
        index.add_many(ids, codes)
        build = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "pdq.npz"
            index.save(path)
            t = time.perf_counter()
            index = HashIndex.load(path)
            load = time.perf_counter() - t
        targets = rng.choice(size, args.queries, replace=False)
        queries = []
        for t_id in targets:
            near = _flip(codes[t_id], int(rng.integers(0, PDQ.match_threshold + 1)), rng)
            variants = [near.tobytes().hex()] + [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(7)]
            queries.append((int(t_id), variants))
        lat, found = [], 0
        for t_id, variants in queries:
            t = time.perf_counter()
            hits = index.search(variants, PDQ.match_threshold)
            lat.append(time.perf_counter() - t)
            found += any(h.item_id == t_id for h in hits)
        lat.sort()
        brute = BruteForceHashIndex(PDQ.bits)
        brute._chunks, brute._id_chunks = [codes], [ids]
        blat = []
        for t_id, variants in queries[:20]:
            t = time.perf_counter()
            brute.search(variants, PDQ.match_threshold)
            blat.append(time.perf_counter() - t)
        blat.sort()
        plat, pfound = [], 0
        for t_id in targets[:50]:
            near = _flip(codes[t_id], int(rng.integers(PDQ.match_threshold, PART_HASH_RADIUS + 1)), rng)
            variants = [near.tobytes().hex(), rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()]
            t = time.perf_counter()
            hits = index.search(variants, PART_HASH_RADIUS)
            plat.append(time.perf_counter() - t)
            pfound += any(h.item_id == t_id for h in hits)
        plat.sort()
        print(f"{size:9d} {build:8.2f} {load:7.2f} {lat[len(lat) // 2] * 1000:7.2f}ms {lat[int(len(lat) * 0.99)] * 1000:7.2f}ms "
              f"{blat[len(blat) // 2] * 1000:8.1f}ms {found / len(queries):7.3f} {index.nbytes / size:10.0f} "
              f"{plat[len(plat) // 2] * 1000:7.1f}ms {pfound / len(plat):7.3f}")


if __name__ == "__main__":
    main()
