"""How long ``chain`` and ``outlets`` take on a large ledger (target: under 2 s each).

Generates a SQLite ledger of 100,000 items and 300,000 sightings by bulk inserts (no pictures:
file facts and matcher evidence are made up, in the proportions of a propaganda archive), gives
every item its work and derives every chain (``works.rebuild``, timed too), then times:

- ``chain``: the library call (``work_chain``) on the largest work, a median one and 50 random
  ones, and the command end to end (a new process: Python start-up and imports included);
- ``outlets``: the library call and the command end to end.

The shape: 400 outlets whose activity follows a power law; works whose sizes follow a power law
(most pictures are published once, a few are copied hundreds of times, one viral picture has
2,000 copies); per item 1 + Poisson(2) sightings, 85 % with a claimed date (day or second);
links form a tree inside each work plus 20 % extra links; link evidence is PDQ near-duplicates
(60 %), ORB crops (25 %) and ORB "framed" (15 %).

    python benchmarks/chain_speed.py [--items 100000] [--sightings 300000] [--db PATH] [--keep] [--rebuild]

Timings vary with the machine's load: run it on a quiet machine and quote the machine line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provenance.chain import work_chain  # noqa: E402
from provenance.ledger import Ledger  # noqa: E402
from provenance.models import Item, MatchLink, Outlet, Sighting  # noqa: E402
from provenance.outlets import outlets  # noqa: E402
from provenance.works import rebuild  # noqa: E402

EPOCH = datetime(2014, 1, 1, tzinfo=timezone.utc)


def describe_machine() -> str:
    try:
        from machine import describe  # benchmarks/machine.py

        return describe()
    except ImportError:
        return f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def work_sizes(rng: np.random.Generator, items: int) -> list[int]:
    sizes = [min(2000, items // 50)]  # one viral picture
    total = sizes[0]
    while total < items:
        size = int(min(600, rng.pareto(1.3) + 1))
        size = min(size, items - total)
        sizes.append(size)
        total += size
    return sizes


def generate(path: Path, n_items: int, n_sightings: int, seed: int = 7) -> dict:
    """Write the ledger by bulk inserts; returns counts."""
    rng = np.random.default_rng(seed)
    now = datetime.now(timezone.utc)
    with Ledger(path) as led:
        conn = led.session.connection()
        outlet_rows = [{"id": i + 1, "name": f"outlet-{i:03d}"} for i in range(400)]
        conn.execute(insert(Outlet.__table__), outlet_rows)
        weights = 1.0 / np.arange(1, 401) ** 0.9
        weights /= weights.sum()

        items, sightings, links = [], [], []
        item_id = sighting_id = link_id = 0
        sizes = work_sizes(rng, n_items)
        per_item = 1 + rng.poisson(max(0.0, n_sightings / n_items - 1), size=n_items)
        scale = n_sightings / per_item.sum()
        per_item = np.maximum(1, np.round(per_item * scale)).astype(int)
        for size in sizes:
            start = EPOCH + timedelta(days=float(rng.uniform(0, 3650)))
            first = item_id + 1
            for k in range(size):
                item_id += 1
                w, h = (int(rng.integers(300, 2000)), int(rng.integers(300, 2000))) if k == 0 else \
                    (int(rng.integers(200, 1200)), int(rng.integers(200, 1200)))
                born = start + timedelta(hours=float(rng.exponential(48.0)) * (k > 0) * (1 + k ** 0.3))
                items.append({
                    "id": item_id, "sha256": hashlib.sha256(f"item{item_id}".encode()).hexdigest(), "kind": "image",
                    "media_format": "JPEG", "width": w, "height": h, "file_size": int(w * h * rng.uniform(0.1, 0.4)),
                    "information": 0.4, "exif_json": "{}", "first_indexed_at": now,
                    "exif_taken_at": (born - timedelta(hours=5)).replace(tzinfo=None) if rng.random() < 0.1 else None,
                })
                for j in range(int(per_item[item_id - 1]) if item_id - 1 < len(per_item) else 1):
                    sighting_id += 1
                    when = born + timedelta(hours=float(rng.exponential(24.0)) * (j > 0))
                    claimed = rng.random() < 0.85
                    day = rng.random() < 0.5
                    outlet = int(rng.choice(400, p=weights)) + 1 if rng.random() < 0.97 else None
                    sightings.append({
                        "id": sighting_id, "sighting_key": hashlib.sha256(f"s{sighting_id}".encode()).hexdigest(),
                        "item_id": item_id, "outlet_id": outlet, "path": f"/archive/{item_id}/{j}.jpg",
                        "url": f"https://outlet-{outlet}.example/{sighting_id}" if outlet else None,
                        "published_at": (when.replace(hour=0, minute=0, second=0, microsecond=0) if day else when)
                        if claimed else None,
                        "published_precision": ("day" if day else "second") if claimed else None,
                        "published_source": "manifest" if claimed else None,
                        "indexed_at": now, "extra_json": "{}",
                    })
                if k == 0:
                    continue
                for parent in {int(rng.integers(first, item_id))} | (
                        {int(rng.integers(first, item_id))} if rng.random() < 0.2 else set()):
                    link_id += 1
                    links.append(_link(rng, link_id, parent, item_id, now))
            if len(items) >= 20000:
                _flush(conn, items, sightings, links)
        _flush(conn, items, sightings, links)
        led.session.commit()
        counts = led.counts()
    return counts


def _link(rng, link_id: int, earlier: int, later: int, now: datetime) -> dict:
    r = rng.random()
    if r < 0.6:
        method, distance = "pdq", float(rng.integers(0, 31))
        evidence = {"bits": 256, "threshold": 31, "edits": [], "transform": "original"}
    elif r < 0.85:
        method, distance = "orb", float(rng.integers(20, 400))
        evidence = {"edits": ["cropped"], "visible_share": round(float(rng.uniform(0.25, 0.95)), 3),
                    "ncc_blocks": round(float(rng.uniform(0.5, 1.0)), 3), "inliers": int(distance)}
    else:
        method, distance = "orb", float(rng.integers(20, 400))
        evidence = {"edits": ["framed"], "visible_share": 1.0, "ncc_blocks": 0.9, "inliers": int(distance),
                    "quad_in_query": [[10, 10], [300, 10], [300, 200], [10, 200]]}
    return {"id": link_id, "earlier_item_id": earlier, "later_item_id": later, "method": method, "distance": distance,
            "evidence_json": json.dumps(evidence), "found_at": now, "status": "auto"}


def _flush(conn, items, sightings, links) -> None:
    for table, rows in ((Item.__table__, items), (Sighting.__table__, sightings), (MatchLink.__table__, links)):
        if rows:
            conn.execute(insert(table), rows)
        rows.clear()


CPU: dict[str, float] = {}


def timed(fn, repeat: int = 1, label: str | None = None) -> tuple[float, object]:
    """Best wall-clock seconds of ``repeat`` runs (and the CPU seconds of that run, under ``label``:
    a loaded machine stretches wall time, much less CPU time)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best = wall
            if label:
                CPU[label] = time.process_time() - c0
    return best, result


def cli_seconds(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "provenance.cli", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--sightings", type=int, default=300_000)
    parser.add_argument("--db", type=Path, help="where to write the ledger (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated ledger")
    parser.add_argument("--rebuild", action="store_true", help="with --db: derive every work's chain again, timed")
    args = parser.parse_args()
    print(describe_machine())
    if hasattr(os, "getloadavg"):
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
    folder = Path(tempfile.mkdtemp(prefix="chain-speed-"))
    db = args.db or folder / "ledger.db"
    if db.exists():
        print(f"using the existing ledger {db}")
        if args.rebuild:
            with Ledger(db) as led:
                seconds, n = timed(lambda: rebuild(led))
            print(f"works and chains derived again for {n} works in {seconds:.1f} s "
                  f"({seconds / max(n, 1) * 1000:.2f} ms/work)")
    else:
        seconds, counts = timed(lambda: generate(db, args.items, args.sightings))
        print(f"generated {counts} in {seconds:.1f} s")
        with Ledger(db) as led:
            seconds, n = timed(lambda: rebuild(led))
        print(f"works and chains derived for {n} works in {seconds:.1f} s ({seconds / max(n, 1) * 1000:.2f} ms/work)")
    with Ledger(db, readonly=True) as led:
        sizes = {w: len(items) for w, items in led.members(led.live_work_ids()).items()}
        ordered = sorted(sizes, key=sizes.get)
        largest, median = ordered[-1], ordered[len(ordered) // 2]
        s_large, chain = timed(lambda: work_chain(led, largest), repeat=3, label="chain")
        print(f"chain (library), largest work W{largest}: {sizes[largest]} items, {len(chain.nodes)} sightings: "
              f"{s_large:.3f} s (CPU {CPU['chain']:.3f} s)")
        s_median, chain = timed(lambda: work_chain(led, median), repeat=3)
        print(f"chain (library), median work W{median}: {sizes[median]} items: {s_median * 1000:.1f} ms")
        rng = np.random.default_rng(1)
        sample = [ordered[int(i)] for i in rng.integers(0, len(ordered), 50)]
        per_work = [timed(lambda w=w: work_chain(led, w))[0] for w in sample]
        print(f"chain (library), 50 random works: median {statistics.median(per_work) * 1000:.1f} ms, "
              f"max {max(per_work) * 1000:.1f} ms")
    with Ledger(db) as led:
        s_outlets, stats = timed(lambda: outlets(led), repeat=3, label="outlets")
        print(f"outlets (library): {len(stats)} outlets: {s_outlets:.3f} s (CPU {CPU['outlets']:.3f} s)")
    print(f"chain (command, new process) on W{largest}: {cli_seconds(['chain', f'W{largest}', '--db', str(db)]):.2f} s; "
          f"on W{median}: {cli_seconds(['chain', f'W{median}', '--db', str(db)]):.2f} s")
    print(f"outlets (command, new process): {cli_seconds(['outlets', '--db', str(db)]):.2f} s")
    print(f"Python start-up and imports alone (--help): {cli_seconds(['--help']):.2f} s")
    if not args.keep and not args.db:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    elif not args.db:
        print(f"kept {db}")


if __name__ == "__main__":
    main()
