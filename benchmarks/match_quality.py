"""Match quality: recall per kind of edit, false matches, and check latency, through the public API.

    python benchmarks/match_quality.py                 # report half, 1,000 and 10,000 items
    python benchmarks/match_quality.py --half tune     # the half thresholds are tuned on
    python benchmarks/match_quality.py --sizes 1000    # quicker: one index size

What it builds (all from freely licensed photographs, benchmarks/photos.py; never propaganda):
- the chosen half of the photo corpus is split in two: INDEXED photos (saved as JPEG q90 and
  indexed with an outlet) and NEVER-INDEXED photos;
- for every indexed photo, one re-publication per kind of edit (benchmarks/edits.py): a positive
  query, a hit when the indexed original is among the matches;
- negatives, each a false match if it matches anything: every never-indexed photo whole and
  under every kind of edit, the degenerate images (flat, gradients, checkerboards, text pages,
  interfaces without photos), and never-indexed generated images;
- "shared logo / shared banner" pairs: a logo- or banner-stamped copy of some indexed photos is
  indexed too, and never-indexed photos carrying the very same logo or banner are queried: a match
  through the shared overlay alone is a false match;
- the index is padded with generated distractor images to each size in --sizes; recall and
  false matches are measured on every query at the first size, latency (the wall time of
  `Checker.check_path` per query: decode + fingerprint + search + verify) on every query there
  and on a sample at the larger sizes.
Ledgers are cached under bench-cache/ so a re-run only re-checks.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from machine import describe  # noqa: E402
from provenance import Ledger  # noqa: E402
from provenance.check import Checker  # noqa: E402
from provenance.prints import fingerprint_file  # noqa: E402

CACHE = Path(__file__).resolve().parents[1] / "bench-cache" / "match_quality"
SEED = 1234


def _save(img: Image.Image, path: Path, quality: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        img.convert("RGB").save(path, "JPEG", quality=quality)
    return path


def _save_made(make: Callable[[], Image.Image], path: Path, quality: int = 90) -> Path:
    """_save of the image `make` builds, built only when `path` is not cached yet (an edit such as
    a photographed screen costs more than reading it back)."""
    return path if path.exists() else _save(make(), path, quality)


def _fingerprint(path: str):
    return fingerprint_file(path, keep_image=False)


def add_files(ledger: Ledger, paths: list[Path], outlet: str, workers: int) -> dict[str, int]:
    """Index files without linking them (padding and originals); returns item id by path."""
    ids = {}
    todo = [str(p) for p in paths]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, outcome in enumerate(pool.map(_fingerprint, todo, chunksize=8), 1):
            if outcome.error:
                print(f"  ! {outcome.path}: {outcome.error}")
                continue
            pr = outcome.prints
            item, _ = ledger.add_item(_facts(pr), pr.information, pr.fingerprints, pr.local_record)
            for part in pr.parts:  # as a scan does (parts.py)
                ledger.add_part(item.id, part)
            ledger.add_sighting(item.id, outlet=outlet, path=outcome.path)
            ids[outcome.path] = item.id
            if n % 500 == 0:
                ledger.commit()
                print(f"  indexed {n}/{len(todo)}", flush=True)
    ledger.commit()
    return ids


def _facts(pr):
    from provenance.media import DecodedImage

    return DecodedImage(pr.name, pr.sha256, pr.file_size, pr.format, pr.width, pr.height, None, pr.exif)


def build_sets(half: str):
    """(indexed photos, never-indexed photos) of the chosen half."""
    from photos import load_photos, split_halves

    tune, report = split_halves(load_photos())
    chosen = tune if half == "tune" else report
    rng = random.Random(SEED)
    order = list(range(len(chosen)))
    rng.shuffle(order)
    # keep tiles of one source together on one side, as in split_halves
    by_source = defaultdict(list)
    for i in order:
        by_source[chosen[i].source].append(chosen[i])
    indexed, never = [], []
    for group in by_source.values():
        (indexed if len(indexed) <= len(never) else never).extend(group)
    return indexed, never


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=("tune", "report"), default="report")
    ap.add_argument("--sizes", default="1000,10000", help="index sizes to pad to, comma-separated")
    ap.add_argument("--negatives", type=int, default=2000, help="minimum number of never-indexed queries")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--latency-sample", type=int, default=200, help="queries timed at each size but the first")
    args = ap.parse_args()
    from edits import DEGENERATE, EDITS, distractor

    print(describe())
    indexed, never = build_sets(args.half)
    print(f"half: {args.half}; {len(indexed)} photos indexed, {len(never)} never indexed")
    work = CACHE / args.half

    originals = [_save(p.image, work / "indexed" / f"{p.name}.jpg") for p in indexed]
    # overlays shared between an indexed copy and a never-indexed photo
    shared = []
    for i, (p, q) in enumerate(zip(indexed[:20], never[:20])):
        kind = "logo_corner" if i % 2 == 0 else "caption_banner"
        seed = SEED * 1000 + i
        pub = _save(EDITS[kind](p.image, random.Random(seed)), work / "indexed-overlay" / f"{p.name}-{kind}.jpg")
        neg = _save(EDITS[kind](q.image, random.Random(seed)), work / "queries-shared" / f"{q.name}-{kind}.jpg")
        shared.append((pub, neg))

    positives = []  # (kind, query path, expected original path)
    for p, orig in zip(indexed, originals):
        for kind, edit in EDITS.items():
            r = random.Random(f"{p.name}-{kind}")
            img = edit(p.image, r, other=never[r.randrange(len(never))].image) if kind == "collage_half" else edit(p.image, r)
            positives.append((kind, _save(img, work / "queries-pos" / kind / f"{p.name}.jpg", 92), str(orig)))
    negatives = []  # (kind, query path)
    for q in never:
        negatives.append(("photo", _save(q.image, work / "queries-neg" / "photo" / f"{q.name}.jpg")))
        for kind, edit in EDITS.items():
            r = random.Random(f"neg-{q.name}-{kind}")
            img = edit(q.image, r, other=never[r.randrange(len(never))].image) if kind == "collage_half" else edit(q.image, r)
            negatives.append((kind, _save(img, work / "queries-neg" / kind / f"{q.name}.jpg", 92)))
    for kind, make in DEGENERATE.items():
        for j in range(10):
            negatives.append((f"degenerate:{kind}", _save(make(random.Random(f"{kind}-{j}")), work / "queries-degenerate" / f"{kind}-{j}.png")))
    for _, neg in shared:
        negatives.append(("shared-overlay", neg))
    j = 0
    while len(negatives) < args.negatives:
        negatives.append(("generated", _save(distractor(10_000_000 + j), work / "queries-generated" / f"g{j:05d}.jpg")))
        j += 1
    print(f"queries: {len(positives)} positives ({len(EDITS)} kinds), {len(negatives)} never-indexed")

    sizes = sorted(int(s) for s in args.sizes.split(","))
    db = work / f"ledger-{sizes[-1]}.db"
    fresh = not db.exists()
    ledger = Ledger(db)
    base = len(originals) + len(shared)
    if fresh:
        t = time.perf_counter()
        add_files(ledger, originals, "origin", args.workers)
        add_files(ledger, [pub for pub, _ in shared], "overlay-outlet", args.workers)
        print(f"  fingerprinting {base} photos: {1000 * (time.perf_counter() - t) / base:.0f} ms/image wall "
              f"({args.workers} workers)")
    # keyed by folder/name, so that a cached ledger built in another checkout still resolves
    item_of = {_key(p): i for p, i in _items_by_path(ledger).items()}
    overlay_items = {item_of[_key(pub)] for pub, _ in shared}

    for size in sizes:
        have = ledger.counts()["items"]
        need = size - have
        if need > 0:
            paths = [_save(distractor(k), work / "distractors" / f"d{k:06d}.jpg", 85) for k in range(have - base, have - base + need)]
            t = time.perf_counter()
            add_files(ledger, paths, "padding", args.workers)
            print(f"  padded to {ledger.counts()['items']} items ({1000 * (time.perf_counter() - t) / len(paths):.0f} ms/image wall)")
        checker = Checker(ledger)
        last = size == sizes[0]  # the full evaluation at the first size; latency samples beyond
        pos = positives if last else random.Random(size).sample(positives, min(args.latency_sample, len(positives)))
        neg = negatives if last else random.Random(size + 1).sample(negatives, min(args.latency_sample, len(negatives)))
        latencies = []
        hits, totals, wrong_top = Counter(), Counter(), Counter()
        methods = defaultdict(Counter)
        for n_done, (kind, path, expected) in enumerate(pos, 1):
            if n_done % 250 == 0:
                print(f"  checked {n_done}/{len(pos)} positives", flush=True)
            t = time.perf_counter()
            result = checker.check_path(str(path))
            latencies.append(time.perf_counter() - t)
            totals[kind] += 1
            matched = [m.item_id for m in result.matches]
            want = item_of[_key(expected)]
            if want in matched:
                hits[kind] += 1
                methods[kind][next(m.method for m in result.matches if m.item_id == want)] += 1
            if any(i != want and i not in overlay_items for i in matched):
                wrong_top[kind] += 1
        false_by_kind = Counter()
        false_examples = []
        for kind, path in neg:
            t = time.perf_counter()
            result = checker.check_path(str(path))
            latencies.append(time.perf_counter() - t)
            if result.matches:
                false_by_kind[kind] += 1
                for m in result.matches:
                    false_examples.append(f"{kind}: {Path(path).name} -> item {m.item_id} ({Path(m.path or '?').name}) "
                                          f"by {m.method} ({m.distance}){_evidence_summary(m.evidence)}")
        lat = sorted(latencies)
        p50 = lat[len(lat) // 2] * 1000
        p95 = lat[int(len(lat) * 0.95)] * 1000
        print(f"\n== {ledger.counts()['items']} items indexed: check latency p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
              f"max {lat[-1] * 1000:.0f} ms over {len(lat)} queries")
        if not last:
            continue
        print(f"{'kind of edit':22s} {'recall':>7s} {'found':>7s}  methods            other items also matched")
        recalls = []
        for kind in EDITS:
            r = hits[kind] / totals[kind]
            recalls.append(r)
            mix = ", ".join(f"{m} {c}" for m, c in methods[kind].most_common())
            print(f"{kind:22s} {r:7.3f} {hits[kind]:3d}/{totals[kind]:<3d}  {mix:18s} {wrong_top[kind]}")
        print(f"{'all':22s} {sum(hits.values()) / sum(totals.values()):7.3f}   min per kind {min(recalls):.3f}")
        n_false = sum(false_by_kind.values())
        print(f"false matches: {n_false} of {len(neg)} never-indexed queries"
              + (": " + ", ".join(f"{k} {c}" for k, c in false_by_kind.most_common()) if n_false else ""))
        for line in false_examples[:40]:
            print("   ", line)
    ledger.close()


def _key(path) -> str:
    """A cached file's folder and name (its place under the cache, whatever the checkout)."""
    return "/".join(Path(path).parts[-2:])


def _evidence_summary(ev: dict) -> str:
    """The figures that decided a match, for listing false pairs."""
    keys = ("inlier_ratio", "ncc_blocks", "blocks_compared", "hull_share", "visible_share", "detail_ncc")
    parts = [f"{k}={ev[k]}" for k in keys if ev.get(k) is not None]
    parts += [f"also {a['method']} {a.get('distance')}" for a in ev.get("also", [])]
    return (": " + ", ".join(parts)) if parts else ""


def _items_by_path(ledger: Ledger) -> dict[str, int]:
    from sqlmodel import select

    from provenance.models import Sighting

    return {path: item for path, item in ledger.session.exec(select(Sighting.path, Sighting.item_id))}


if __name__ == "__main__":
    main()
