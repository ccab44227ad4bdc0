"""Indexing throughput and memory on realistic 1-2 megapixel JPEGs.

    python benchmarks/scan_throughput.py [--count 300] [--workers N]

Builds COUNT distinct JPEGs of 1-2 MP from the freely licensed photo corpus (benchmarks/photos.py;
without its Debian packages, scikit-image's photos), then measures, each in fresh processes so
peak memory (max RSS) is its own:
  decode     reading + decoding to the working image (the floor of full fingerprints);
  decode/h   reading + decoding to the hash picture alone (media.HASH_SIDE: the floor of the
             global hashes, which never need the working image);
  global     what a `scan --hashes-only` worker does: decode/h + SHA-256 + PDQ (8 dihedral) + pHash
             + information score;
  full       decode + the global hashes + ORB local features (what the ledger stores per file);
  worker     what a scan's worker does per file: full + the query-side ORB features it sends to
             the writer (from the file decoded again at a check's size when that gains enough);
  scan/1     a full `provenance scan` into SQLite, one process;
  scan/N     the same with N worker processes;
  hashes/N   `provenance scan --hashes-only` with N worker processes;
  rescan     a second scan of the same archive (nothing new: must read no file).
For the per-image stages: images/s on one core (from the process's CPU time, so other load on a
shared machine inflates it less than wall time) and on all N cores (N processes on N shares of
the files, wall time), and the ratio to its floor (decode/h for global, decode for the others).
Compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe  # noqa: E402


def make_archive(folder: Path, count: int) -> list[Path]:
    """COUNT distinct 1-2 MP JPEGs (random crops, scales and qualities of corpus photos)."""
    from PIL import Image

    try:
        from photos import load_photos

        photos = [p.image for p in load_photos(min_count=0)]
    except Exception:  # the Debian wallpaper packages are optional here
        from photos import load_photos

        photos = [p.image for p in load_photos(min_count=0, sources=("skimage",))]
    rng = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        src = photos[i % len(photos)]
        target_px = rng.uniform(1.0e6, 2.0e6)
        aspect = rng.choice([4 / 3, 3 / 2, 16 / 9, 1.0, 3 / 4])
        w = int((target_px * aspect) ** 0.5)
        h = int(w / aspect)
        # a random crop of the source, scaled to w x h: every file is a distinct picture
        cw, ch = src.size
        frac = rng.uniform(0.6, 1.0)
        box_w, box_h = int(cw * frac), int(ch * frac)
        x, y = rng.randint(0, cw - box_w), rng.randint(0, ch - box_h)
        img = src.crop((x, y, x + box_w, y + box_h)).resize((w, h), Image.Resampling.BICUBIC)
        path = folder / f"img_{i:05d}.jpg"
        img.save(path, "JPEG", quality=rng.randint(75, 95))
        paths.append(path)
    return paths


_STAGE = r"""
import sys, time, resource, json
from pathlib import Path
from provenance.media import decode_image, load_image, read_file
from provenance.prints import fingerprint_file, fingerprint_image
mode, share, shares = sys.argv[1], int(sys.argv[3]), int(sys.argv[4])
paths = sorted(Path(sys.argv[2]).glob('*.jpg'))[share::shares]
load_image(paths[0]); fingerprint_image(load_image(paths[0]), query=True)  # imports, first-call set-up
t, c = time.perf_counter(), time.process_time()
for p in paths:
    if mode == 'worker':  # exactly what a scan's worker does with a file (prints.fingerprint_file)
        fingerprint_file(str(p))
        continue
    if mode == 'global':  # exactly what a hashes-only scan's worker does
        fingerprint_file(str(p), hashes_only=True)
        continue
    if mode == 'decode/h':
        decode_image(read_file(p), str(p), hashes_only=True)
        continue
    d = load_image(p)
    if mode == 'full':
        fingerprint_image(d, local=True)
elapsed, cpu = time.perf_counter() - t, time.process_time() - c
hwm = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0]  # not maxrss: see run_scan
print(json.dumps({'seconds': elapsed, 'cpu': cpu, 'n': len(paths), 'maxrss_mb': hwm / 1024}))
"""


def run_stage(mode: str, folder: Path, shares: int = 1) -> dict:
    """One stage over every file: in one process, or in SHARES processes at once (wall time)."""
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _STAGE, mode, str(folder), str(i), str(shares)],
                              stdout=subprocess.PIPE, text=True) for i in range(shares)]
    results = [json.loads(p.communicate()[0]) for p in procs]
    wall = time.perf_counter() - t
    if shares == 1:
        return results[0]
    # the slowest share bounds the wall time; process start-up is excluded as in one process
    return {"seconds": max(r["seconds"] for r in results), "cpu": sum(r["cpu"] for r in results),
            "n": sum(r["n"] for r in results), "maxrss_mb": max(r["maxrss_mb"] for r in results), "wall": wall}


def run_scan(folder: Path, db: Path, workers: int, *options: str) -> dict:
    """A scan as a user runs it; peak RSS of its main (writer) process from VmHWM, since getrusage's
    maxrss of a child carries over the RSS of this parent (which holds the photo corpus)."""
    from archive_scan import PEAK_RUNNER, peak_mb

    cmd = [sys.executable, "-c", PEAK_RUNNER, "scan", str(folder), "--db", str(db), "--json", "--quiet",
           "--workers", str(workers), *options]
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    summary = json.loads(out.stdout)
    return {"seconds": elapsed, "n": summary["files_seen"], "new_items": summary["new_items"],
            "maxrss_mb": peak_mb(out.stderr)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "archive"
        t = time.perf_counter()
        paths = make_archive(folder, args.count)
        mp = sum(__import__("PIL.Image").Image.open(p).size[0] * __import__("PIL.Image").Image.open(p).size[1] for p in paths) / len(paths) / 1e6
        print(f"archive: {len(paths)} JPEGs, mean {mp:.2f} MP, built in {time.perf_counter() - t:.0f} s")
        print(f"{'stage':10s} {'img/s/core':>10s} {'ms/img':>8s} {'x decode':>9s} "
              f"{'img/s all':>10s} {'x decode':>9s} {'peak MB':>8s}   ({args.workers} cores)")
        single, multi = {}, {}
        for mode in ("decode", "decode/h", "global", "full", "worker"):
            single[mode] = run_stage(mode, folder)
            multi[mode] = run_stage(mode, folder, args.workers)
        for mode in single:
            one, all_ = single[mode], multi[mode]
            floor = "decode/h" if mode in ("decode/h", "global") else "decode"
            per_core = one["n"] / one["cpu"]
            rate_all = all_["n"] / all_["seconds"]
            print(f"{mode:10s} {per_core:10.1f} {1000 / per_core:8.1f} {one['cpu'] / single[floor]['cpu']:9.2f} "
                  f"{rate_all:10.1f} {all_['seconds'] / multi[floor]['seconds']:9.2f} {one['maxrss_mb']:8.0f}")
        hashes = (single["global"]["cpu"] - single["decode/h"]["cpu"]) / single["global"]["n"]
        print(f"global hashes alone (global - decode/h): {1000 * hashes:.1f} ms/img, {1 / hashes:.0f} img/s/core")
        rows = []
        db1, dbn, dbh = Path(tmp) / "one.db", Path(tmp) / "many.db", Path(tmp) / "hashes.db"
        rows.append(("scan/1", run_scan(folder, db1, 1)))
        rows.append((f"scan/{args.workers}", run_scan(folder, dbn, args.workers)))
        rows.append((f"hashes/{args.workers}", run_scan(folder, dbh, args.workers, "--hashes-only")))
        rows.append(("rescan", run_scan(folder, db1, 1)))
        print(f"{'scan':10s} {'images/s':>9s} {'ms/image':>9s} {'peak MB':>8s}   (wall time, process start-up included)")
        for name, r in rows:
            rate = r["n"] / r["seconds"]
            print(f"{name:10s} {rate:9.1f} {1000 / rate:9.1f} {r['maxrss_mb']:8.0f}")
        size = db1.stat().st_size
        print(f"ledger: {size / len(paths) / 1024:.1f} KiB per image in SQLite ({size / 1e6:.1f} MB for {len(paths)})")


if __name__ == "__main__":
    main()
