"""Measure true- and false-pair distributions of the local-feature matcher.

Indexes the originals of one half of the photo corpus (plus logo'd, captioned
and degenerate images that invite false matches), runs every kind of edit as a
query, verifies every candidate with the acceptance thresholds switched OFF,
and records per (query, candidate) pair: vote rank, inliers, inlier hull share,
visible share, NCC block share.  It then prints the distributions of true and
false pairs, the recall per edit kind and the false matches under the
thresholds currently written in provenance/local_match.py.

    .venv/bin/python -m benchmarks.local_tuning                 # tune half
    .venv/bin/python -m benchmarks.local_tuning --half report   # final check
    .venv/bin/python -m benchmarks.local_tuning --timing 10000  # speed at N items

Photos come from benchmarks/photos.py, edits, degenerate images and
distractors from benchmarks/edits.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import edits as edits_module  # noqa: E402
from benchmarks import photos as photos_module  # noqa: E402
from provenance import local_match  # noqa: E402
from provenance.local_features import ALGORITHM, VERSION, LocalFeatures, extract, extract_mirrored  # noqa: E402
from provenance.local_index import LocalFeatureIndex  # noqa: E402

SEEDS = int(os.environ.get("SEEDS", "2"))
# Use every PHOTO_STEP-th photo of each half (1 = all) to trade coverage for time.
PHOTO_STEP = int(os.environ.get("PHOTO_STEP", "1"))
CANDIDATES = 20  # candidates examined per query side (more than search() uses, to see ranks)


# --- corpus and traps ------------------------------------------------------------

def load_corpus(half: str) -> tuple[list, list]:
    """(photos of the requested half, photos of the other half)."""
    every = photos_module.load_photos()
    tune, report = photos_module.split_halves(every)
    tune, report = tune[::PHOTO_STEP], report[::PHOTO_STEP]
    return (tune, report) if half == "tune" else (report, tune)


TRAP_LOGO_SEED = "trap-logo"
TRAP_BANNER_SEED = "trap-banner"


def with_trap_logo(image: Image.Image) -> Image.Image:
    """The SAME outlet logo (12 % of the width) in the top-right corner of any picture."""
    logo = edits_module.make_logo(random.Random(TRAP_LOGO_SEED), image.width * 0.12)
    out = image.convert("RGBA")
    margin = int(image.width * 0.03)
    out.alpha_composite(logo, (image.width - logo.width - margin, margin))
    return out.convert("RGB")


def with_trap_banner(image: Image.Image) -> Image.Image:
    """The SAME caption banner (text, colours, side) on any picture."""
    return edits_module.caption_banner(image, random.Random(TRAP_BANNER_SEED))


# --- measurement ----------------------------------------------------------------

NON_MATCH_KINDS = ("degenerate", "never", "distractor")
PERMISSIVE = dict(MIN_INLIERS=6, MIN_HULL_SHARE=0.0, MIN_VISIBLE_SHARE=0.0, MIN_BLOCKS=0,
                  MIN_BLOCK_SHARE=0.0, WEAK_MATCH_BLOCK_SHARE=0.0, MIN_CANDIDATE_SCORE=0.0)


INDEXED_DISTRACTORS = int(os.environ.get("INDEXED_DISTRACTORS", "1000"))
QUERY_DISTRACTORS = int(os.environ.get("QUERY_DISTRACTORS", "300"))
TRAP_LOGO, TRAP_BANNER, DEGENERATE_ITEM, DISTRACTOR_ITEM = 10_000, 20_000, 30_000, 100_000


def build_index(photos):
    """Index originals plus look-alike traps; return (index, features by item id).

    Item ids: i = photo i; TRAP_LOGO + i / TRAP_BANNER + i = photo i with the
    shared logo / banner; DEGENERATE_ITEM + j = a degenerate image;
    DISTRACTOR_ITEM + n = generated distractor n.
    """
    items = {}
    for i, photo in enumerate(photos):
        items[i] = photo.image
        items[TRAP_LOGO + i] = with_trap_logo(photo.image)
        items[TRAP_BANNER + i] = with_trap_banner(photo.image)
    for j, (name, make) in enumerate(edits_module.DEGENERATE.items()):
        items[DEGENERATE_ITEM + j] = make(random.Random(f"indexed-{name}"))
    for n in range(INDEXED_DISTRACTORS):
        items[DISTRACTOR_ITEM + n] = edits_module.distractor(n)
    features = {item_id: extract(image) for item_id, image in items.items()}
    index = LocalFeatureIndex()
    index.add_many(features.items())
    return index, features


def query_rows(query_image, truth: set[int], index, features, kind: str, query_name: str):
    """Stats of every (query, candidate) pair with acceptance thresholds off."""
    saved = {name: getattr(local_match, name) for name in PERMISSIVE}
    for name, value in PERMISSIVE.items():
        setattr(local_match, name, value)
    try:
        started = time.perf_counter()
        query = extract(query_image, for_query=True, keep_working=True)
        flipped = extract_mirrored(query)
        rows = []
        for feats, mirrored in ((query, False), (flipped, True)):
            for rank, (item_id, votes) in enumerate(index.candidates(feats, CANDIDATES)):
                match = local_match.verify(feats, features[item_id], item_id, mirrored=mirrored)
                row = dict(kind=kind, query=query_name, item=item_id, true=item_id in truth,
                           mirrored=mirrored, rank=rank, votes=votes)
                if match is not None:
                    row.update(inliers=match.inliers, hull=match.hull_share, visible=match.visible_share,
                               ncc=match.ncc_blocks, blocks=match.blocks_compared,
                               quad=match.quad_in_query, edits=match.edits)
                rows.append(row)
        return rows, time.perf_counter() - started
    finally:
        for name, value in saved.items():
            setattr(local_match, name, value)


def accepted(row, k: int) -> bool:
    """Would search() with the library's thresholds accept this pair?"""
    return (
        row["rank"] < k and "inliers" in row
        and row["inliers"] >= local_match.MIN_INLIERS
        and row["hull"] >= local_match.MIN_HULL_SHARE
        and row["visible"] >= local_match.MIN_VISIBLE_SHARE
        and row["blocks"] >= local_match.MIN_BLOCKS
        and row["ncc"] >= (local_match.MIN_BLOCK_SHARE if row["inliers"] >= local_match.STRONG_INLIERS
                           else local_match.WEAK_MATCH_BLOCK_SHARE)
        and row["votes"] >= local_match.MIN_CANDIDATE_SCORE
    )


def query_specs(photos, others):
    """(kind, name, seed, true item ids) of every query; images are made in the workers."""
    for i, photo in enumerate(photos):
        own = {i, TRAP_LOGO + i, TRAP_BANNER + i}  # every indexed item showing photo i
        for seed in range(SEEDS):
            for kind in edits_module.EDITS:
                yield kind, photo.name, seed, own
        # the photo with the SAME logo / banner as every trap item: only items
        # showing this photo are true matches, never another photo's trap copy
        yield "shared_logo", photo.name, 0, own
        yield "shared_banner", photo.name, 0, own
    for name in edits_module.DEGENERATE:
        for seed in range(3):
            yield f"degenerate:{name}", name, seed, set()
    for photo in others:  # never indexed: nothing may match, however framed
        for kind in ("never_indexed", "never_idx_screenshot", "never_idx_logo", "never_idx_banner"):
            yield kind, photo.name, 0, set()
    for n in range(QUERY_DISTRACTORS):
        yield "distractor", str(INDEXED_DISTRACTORS + n), 0, set()


def query_image(kind: str, name: str, seed: int) -> Image.Image:
    """The query image of a spec from `query_specs`."""
    photo = _STATE["photos_by_name"].get(name)
    rng = random.Random(f"{kind}:{name}:{seed}")
    if kind in edits_module.EDITS:
        return edits_module.EDITS[kind](photo.image, rng)
    if kind.startswith("degenerate:"):
        return edits_module.DEGENERATE[name](rng)
    if kind == "distractor":
        return edits_module.distractor(int(name))
    return {
        "shared_logo": with_trap_logo, "never_idx_logo": with_trap_logo,
        "shared_banner": with_trap_banner, "never_idx_banner": with_trap_banner,
        "never_indexed": lambda image: image,
        "never_idx_screenshot": lambda image: edits_module.social_screenshot(image, rng),
    }[kind](photo.image)


def summarise(rows, k: int, times):
    """Print distributions, recall per kind and false matches."""
    by_query: dict[tuple, list] = {}
    for row in rows:
        by_query.setdefault((row["kind"], row["query"], row.get("seed", 0)), []).append(row)
    true_pairs = [r for r in rows if r["true"] and "inliers" in r]
    false_pairs = [r for r in rows if not r["true"] and "inliers" in r]

    def quant(values, qs=(0, 0.01, 0.05, 0.5, 0.95, 1)):
        if not values:
            return "-"
        v = sorted(values)
        return " ".join(f"{v[min(len(v) - 1, int(q * (len(v) - 1)))]:.3g}" for q in qs)

    print("\nstat      true pairs (min p1 p5 p50 p95 max)   |   false pairs (min p1 p5 p50 p95 max)")
    for stat in ("inliers", "hull", "visible", "ncc", "blocks"):
        print(f"{stat:8s}  {quant([r[stat] for r in true_pairs]):36s} | {quant([r[stat] for r in false_pairs])}")
    geometric_false = [r for r in false_pairs if r["inliers"] >= local_match.MIN_INLIERS]
    print(f"\nfalse pairs passing the inlier count ({len(geometric_false)}):")
    for stat in ("hull", "visible", "ncc", "blocks"):
        print(f"  {stat:8s} {quant([r[stat] for r in geometric_false])}")
    print("  top false pairs by ncc:")
    for r in sorted(geometric_false, key=lambda r: -r["ncc"])[:12]:
        print(f"    {r['kind']:16s} {r['query']:24s} item={r['item']:6d} inl={r['inliers']:4d} "
              f"hull={r['hull']:.3f} vis={r['visible']:.2f} ncc={r['ncc']:.2f} blocks={r['blocks']}")

    print("\nkind             queries  recall  true-rank-max  false-matches  min-true-ncc  min-true-hull")
    kinds = sorted({key[0] for key in by_query})
    total_false = 0
    for kind in kinds:
        queries = [v for key, v in by_query.items() if key[0] == kind]
        hits = 0
        ranks, false_count, nccs, hulls = [], 0, [], []
        expects_match = not kind.startswith(NON_MATCH_KINDS)
        for qrows in queries:
            true_rows = [r for r in qrows if r["true"] and r["item"] < TRAP_LOGO]
            if any(accepted(r, k) for r in true_rows):
                hits += 1
            if true_rows:
                ranks.append(min(r["rank"] for r in true_rows))
                best = max(true_rows, key=lambda r: r.get("inliers", 0))
                nccs.append(best.get("ncc", 0))
                hulls.append(best.get("hull", 0))
            false_count += sum(1 for r in qrows if not r["true"] and accepted(r, k))
        total_false += false_count
        recall = f"{hits / len(queries):.3f}" if expects_match else "  -  "
        print(f"{kind:16s} {len(queries):7d}  {recall}  {max(ranks) if ranks else '-':>13}  {false_count:13d}"
              f"  {min(nccs) if nccs else '-':>12}  {min(hulls) if hulls else '-':>12}")
    print(f"total false matches: {total_false}")
    if times:
        print(f"query time incl. all {CANDIDATES} candidates verified: median {statistics.median(times) * 1000:.0f} ms")


def misses(rows, k: int, limit: int = 30):
    """Print the queries whose true item was not accepted, with the reason."""
    by_query: dict[tuple, list] = {}
    for row in rows:
        by_query.setdefault((row["kind"], row["query"], row.get("seed", 0)), []).append(row)
    shown = 0
    for key, qrows in by_query.items():
        if key[0].startswith(NON_MATCH_KINDS):
            continue
        true_rows = [r for r in qrows if r["true"] and r["item"] < TRAP_LOGO]
        if any(accepted(r, k) for r in true_rows):
            continue
        best = max(true_rows, key=lambda r: r.get("inliers", 0), default=None)
        print("MISS", key, {k2: best.get(k2) for k2 in ("rank", "votes", "inliers", "hull", "visible", "ncc",
                                                         "blocks", "mirrored")} if best else "not a candidate")
        shown += 1
        if shown >= limit:
            break


def _run_query(spec):
    kind, name, seed, truth = spec
    image = query_image(kind, name, seed)
    rows, elapsed = query_rows(image, truth, _STATE["index"], _STATE["features"], kind, name)
    for row in rows:
        row["seed"] = seed
    return rows, elapsed


_STATE: dict = {}


def measure(half: str, out: str, workers: int):
    photos, others = load_corpus(half)
    index, features = build_index(photos)
    _STATE.update(index=index, features=features,
                  photos_by_name={p.name: p for p in photos + others})
    specs = list(query_specs(photos, others))
    print(f"{len(index)} items indexed, {len(specs)} queries", flush=True)
    rows, times = [], []
    if workers > 1:
        import multiprocessing

        import cv2

        cv2.setNumThreads(1)
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for result, elapsed in pool.imap_unordered(_run_query, specs, chunksize=8):
                rows.extend(result)
                times.append(elapsed)
                if len(times) % 200 == 0:
                    print(f"{len(times)} queries done", flush=True)
    else:
        for spec in specs:
            result, elapsed = _run_query(spec)
            rows.extend(result)
            times.append(elapsed)
    with open(out, "w") as handle:
        json.dump(rows, handle)
    return rows, times


def distractor_blobs(count: int) -> list[bytes]:
    """Serialised features of distractors 0..count-1, cached under bench-cache/."""
    cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench-cache",
                         f"local-distractors-{ALGORITHM}-{VERSION}.npz")
    blobs: list[bytes] = []
    if os.path.exists(cache):
        with np.load(cache, allow_pickle=False) as data:
            sizes, flat = data["sizes"], data["flat"].tobytes()
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        blobs = [flat[offsets[i]:offsets[i + 1]] for i in range(len(sizes))]
    if len(blobs) < count:
        started = time.perf_counter()
        blobs += [extract(edits_module.distractor(n)).to_bytes() for n in range(len(blobs), count)]
        print(f"extracted distractors in {time.perf_counter() - started:.0f} s")
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        np.savez(cache, sizes=np.array([len(b) for b in blobs]),
                 flat=np.frombuffer(b"".join(blobs), dtype=np.uint8))
    return blobs[:count]


def timing(n_items: int, n_queries: int = 60, nprobes: tuple[int, ...] = ()):
    """Time extract() and search() with n_items indexed (tune photos + distractors).

    The load callback deserialises stored blobs, as a database-backed caller
    would.  Also splits the query time into stages, and with `nprobes` repeats
    the candidate step at other IVF probe counts to show speed against the
    true item's rank.
    """
    photos, _ = load_corpus("tune")
    started = time.perf_counter()
    blobs = {i: extract(p.image).to_bytes() for i, p in enumerate(photos)}
    extract_ms = (time.perf_counter() - started) / len(photos) * 1000
    sizes = [len(b) for b in blobs.values()]
    print(f"extract per indexed image: {extract_ms:.0f} ms (blob median {statistics.median(sizes) / 1024:.1f} KB, "
          f"max {max(sizes) / 1024:.1f} KB)", flush=True)
    for n, blob in enumerate(distractor_blobs(n_items - len(photos))):
        blobs[DISTRACTOR_ITEM + n] = blob
    started = time.perf_counter()
    index = LocalFeatureIndex()
    index.add_many((item, LocalFeatures.from_bytes(blob)) for item, blob in blobs.items())
    print(f"{len(index)} items, {index.descriptor_count} descriptors, ivf={index.is_ivf}, "
          f"built in {time.perf_counter() - started:.1f} s", flush=True)

    def load(item):
        return LocalFeatures.from_bytes(blobs[item])

    kinds = list(edits_module.EDITS)
    queries = []
    for q in range(n_queries):
        i = q % len(photos)
        kind = kinds[q % len(kinds)]
        queries.append((i, kind, edits_module.EDITS[kind](photos[i].image, random.Random(f"timing:{q}"))))
    times, found = [], 0
    for i, kind, image in queries:
        started = time.perf_counter()
        matches = local_match.search(image, index, load)
        times.append(time.perf_counter() - started)
        found += any(m.item_id == i for m in matches)
    print(f"search at {len(index)} items: median {statistics.median(times) * 1000:.0f} ms, "
          f"p90 {sorted(times)[int(0.9 * len(times))] * 1000:.0f} ms; found {found}/{n_queries}")

    stages: dict[str, list[float]] = {"extract": [], "candidates": [], "verify": []}
    features = []
    for i, kind, image in queries:
        t0 = time.perf_counter()
        query = extract(image, for_query=True, keep_working=True)
        flipped = extract_mirrored(query)
        t1 = time.perf_counter()
        sides = [(query, index.candidates(query, 12))]
        if kind == "mirror":  # search() tries the mirror only when the query matched nothing
            sides.append((flipped, index.candidates(flipped, 12)))
        t2 = time.perf_counter()
        for feats, candidates in sides:
            for item, _score in candidates:
                local_match.verify(feats, load(item), item, mirrored=feats is flipped)
        t3 = time.perf_counter()
        stages["extract"].append(t1 - t0)
        stages["candidates"].append(t2 - t1)
        stages["verify"].append(t3 - t2)
        features.append((i, kind, query, flipped))
    print("stage medians: " + ", ".join(f"{k} {statistics.median(v) * 1000:.0f} ms" for k, v in stages.items()))
    for nprobe in nprobes:
        index._index.nprobe = nprobe
        started = time.perf_counter()
        ranks = []
        for i, kind, query, flipped in features:
            side = flipped if kind == "mirror" else query
            ids = [item for item, _ in index.candidates(side, 50)]
            ranks.append(ids.index(i) if i in ids else 99)
        elapsed = (time.perf_counter() - started) / len(features) * 1000
        print(f"nprobe {nprobe}: candidates {elapsed:.0f} ms per side, true rank p50 {statistics.median(ranks)} "
              f"p90 {sorted(ranks)[int(0.9 * len(ranks))]} max {max(ranks)}; beyond 12: {sum(r >= 12 for r in ranks)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--half", default="tune", choices=["tune", "report"])
    parser.add_argument("--rows", default="/tmp/local_tuning_rows.json", help="where raw pair stats go")
    parser.add_argument("--reuse", action="store_true", help="re-summarise saved rows, no queries")
    parser.add_argument("--k", type=int, default=12, help="candidates verified per query side")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timing", type=int, default=0, help="time search() with this many items")
    parser.add_argument("--nprobe", type=int, nargs="*", default=[], help="IVF probe counts to compare")
    args = parser.parse_args()
    if args.timing:
        timing(args.timing, nprobes=tuple(args.nprobe))
        return
    if args.reuse:
        with open(args.rows) as handle:
            rows, times = json.load(handle), []
    else:
        rows, times = measure(args.half, args.rows, args.workers)
    summarise(rows, args.k, times)
    misses(rows, args.k)


if __name__ == "__main__":
    main()
