"""The full `check` of a screenshot with up to a million items indexed, end to end.

    python benchmarks/check_at_scale.py [--sizes 10000,1000000] [--queries 60]

A real ledger (SQLite, under bench-cache/check-at-scale/) holds the tune half's photographs and
300 generated scenes, indexed from JPEG files. Its search indexes, loaded as `provenance check`
loads them, are then padded in memory to each size:
  PDQ and pHash  random codes (what their decorrelated bits approximate; benchmarks/search_latency.py);
  ORB words      synthetic items: copies of the scenes' visual words with half of them replaced
                 (benchmarks/local_scale.py); when a query's shortlist asks for one, its stored
                 features are those of the scene it copies, so re-ranking and verification cost
                 what they would.
Padding items take the ids that follow the ledger's rows, as a ledger of that size would give them.
Each query file goes through `Checker.check_path`, as the CLI's `check` does: decode, global
hashes, PDQ search, ORB extraction, candidates, re-ranking, verification, evidence and the ledger
reads of the results. Queries: a social-media screenshot (benchmarks/edits.py) of each of QUERIES
indexed photographs, and as many screenshots of never-indexed photographs of the other half.
Printed per size: the machine, index memory, latency median / 90th / 99th percentile / max over
all queries (wall time, and the process's CPU time, which a loaded machine inflates less), screenshots whose original was found, and never-indexed queries that matched
anything (false matches). The goal of issue 7: a screenshot's check under 1 s at a million.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402

WORK = ROOT / "bench-cache" / "check-at-scale"
SCENES = 300
# Padding items take the ids that a ledger of that many items would give them: the next ones
# after the ledger's rows, rounded up to this (per-id tables and vote arrays grow with the largest
# id, so ids far above the item count would make every search pay for ids no ledger has).
PADDING_ID_STEP = 1000


def build(queries: int):
    """(ledger path, scene item ids, positive (path, item id) pairs, negative paths), built once."""
    import edits
    from local_tuning import load_corpus
    from match_quality import _items_by_path, _save, add_files

    from provenance.ledger import Ledger

    tune, other = load_corpus("tune")
    db = WORK / "ledger.db"
    originals = [_save(p.image, WORK / "indexed" / f"{i:03d}.jpg") for i, p in enumerate(tune)]
    scenes = [_save(edits.distractor(k), WORK / "scenes" / f"s{k:04d}.jpg", 85) for k in range(SCENES)]
    if not db.exists():
        partial = WORK / "ledger.partial.db"
        partial.unlink(missing_ok=True)
        with Ledger(partial) as ledger:
            add_files(ledger, originals, "origin", os.cpu_count() or 1)
            add_files(ledger, scenes, "padding", os.cpu_count() or 1)
        partial.rename(db)
    with Ledger(db, create=False) as ledger:
        id_of = _items_by_path(ledger)
    scene_ids = [id_of[str(p)] for p in scenes if str(p) in id_of]
    positives, negatives = [], []
    for q in range(queries):
        i = q % len(tune)
        rng = random.Random(f"check-at-scale:{q}")
        positives.append((_save(edits.social_screenshot(tune[i].image, rng), WORK / "queries" / f"pos{q:03d}.jpg"),
                          id_of[str(originals[i])]))
        j = q % len(other)
        negatives.append(_save(edits.social_screenshot(other[j].image, rng), WORK / "queries" / f"neg{q:03d}.jpg"))
    return db, scene_ids, positives, negatives


def first_padding_id(ledger) -> int:
    """The id of the first padding item: above every ledger row's (see PADDING_ID_STEP)."""
    from sqlmodel import func, select

    from provenance.models import Item

    largest = ledger.session.exec(select(func.max(Item.id))).one() or 0
    return (largest // PADDING_ID_STEP + 1) * PADDING_ID_STEP


def pad(matcher, scene_ids: list[int], copy_of: list[np.ndarray], size: int, rng, first_id: int) -> None:
    """Grow the matcher's in-memory indexes to `size` items (see the module docstring); appends
    to `copy_of` the scene (index into scene_ids) each new synthetic item copies, which takes ids
    from `first_id` on."""
    from local_scale import synthetic_words

    from provenance import local_index

    index = matcher.local.index
    extra = size - len(index)
    if extra <= 0:
        return
    first = first_id + sum(len(c) for c in copy_of)
    ids = np.arange(first, first + extra, dtype=np.int64)
    matcher.pdq.add_many(ids, rng.integers(0, 256, (extra, 32), dtype=np.uint8))
    matcher.phash.add_many(ids, rng.integers(0, 256, (extra, 8), dtype=np.uint8))
    vocab = local_index.vocabulary()
    features = [matcher.local.loader(i) for i in scene_ids]
    words = [vocab.quantize(f.descriptors, 1)[:, 0] for f in features]
    sigs = [local_index.signature(f.descriptors) for f in features]
    for start in range(0, extra, 20_000):
        n = min(20_000, extra - start)
        flat, flat_sigs, counts = synthetic_words(words, sigs, n, 0.5, rng)
        index.add_words(ids[start:start + n], flat, flat_sigs, counts)
        copy_of.append(np.arange(n) % len(words))  # as synthetic_words picks its sources
    index._merge()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--queries", type=int, default=60)
    args = ap.parse_args()
    print(describe(), flush=True)

    from provenance.check import Checker
    from provenance.errors import NotFoundError
    from provenance.ledger import Ledger
    from provenance.matcher import Matcher

    db, scene_ids, positives, negatives = build(args.queries)
    rng = np.random.default_rng(11)
    with Ledger(db, create=False) as ledger:
        t = time.perf_counter()
        matcher = Matcher(ledger)
        print(f"ledger of {ledger.counts()['items']} items; indexes loaded in {time.perf_counter() - t:.2f} s", flush=True)
        real_loader = matcher.local.loader
        copy_of: list[np.ndarray] = []
        first_id = first_padding_id(ledger)

        def loader(item_id: int):
            if item_id >= first_id:
                if len(copy_of) > 1:  # join the chunks once per size
                    copy_of[:] = [np.concatenate(copy_of)]
                return real_loader(scene_ids[int(copy_of[0][item_id - first_id])])
            return real_loader(item_id)

        matcher.local.loader = loader
        checker = Checker(ledger, matcher)
        checker.check_path(str(positives[0][0]))  # first-call set-up (imports, vocabulary)
        print(f"{'items':>9s} {'index MB':>9s} {'p50 ms':>7s} {'p90 ms':>7s} {'p99 ms':>7s} {'max ms':>7s} "
              f"{'found':>7s} {'false':>6s}", flush=True)
        for size in sorted(int(s) for s in args.sizes.split(",")):
            t = time.perf_counter()
            pad(matcher, scene_ids, copy_of, size, rng, first_id)
            built = time.perf_counter() - t
            latencies, cpu, found, false = [], [], 0, 0
            for path, want in positives + [(p, None) for p in negatives]:
                t, c = time.perf_counter(), time.process_time()
                try:
                    matched = [m.item_id for m in checker.check_path(str(path)).matches]
                except NotFoundError:  # a padding item matched: it has no ledger row to show
                    matched = [-1]
                latencies.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                if want is None:
                    false += bool(matched)
                else:
                    found += want in matched
                    false += any(i != want for i in matched)
            memory = (matcher.pdq.nbytes + matcher.phash.nbytes + matcher.local.index.nbytes) / 1e6
            q = np.percentile(np.array(latencies) * 1000, [50, 90, 99])
            qc = np.percentile(np.array(cpu) * 1000, [50, 90, 99])
            print(f"{len(matcher.local.index):9d} {memory:9.0f} {q[0]:7.0f} {q[1]:7.0f} {q[2]:7.0f} "
                  f"{max(latencies) * 1000:7.0f} {found:3d}/{len(positives):<3d} {false:2d}/{len(negatives):<3d}"
                  f"   (CPU time p50 {qc[0]:.0f}, p90 {qc[1]:.0f}, p99 {qc[2]:.0f} ms; padding built in {built:.0f} s)",
                  flush=True)
            n = len(positives)
            print(f"{'':9s} median: {np.median(latencies[:n]) * 1000:.0f} ms for screenshots of indexed photos, "
                  f"{np.median(latencies[n:]) * 1000:.0f} ms for never-indexed ones (their mirror image is "
                  f"searched too)", flush=True)


if __name__ == "__main__":
    main()
