"""Scale of the local-feature (ORB) candidate stage: recall of the true item and latency/memory to 1M.

    python -m benchmarks.local_scale --recall --half tune      # candidate rank, new index vs exact voting
    python -m benchmarks.local_scale --recall --half report
    python -m benchmarks.local_scale --sizes 10000,100000,1000000

--recall indexes the half's photos, their logo/banner-stamped copies and the degenerate images,
padded with generated distractors (cached ORB features, bench-cache/) to 1,000 and 10,000
items, runs every edit of benchmarks/edits.py (2 seeds) plus the shared-logo/banner traps as
queries, and prints per edit kind the share of queries whose true original is among the top k
candidates (k = 12 as local_match.search uses, and 20), for the visual-word index
(provenance.local_index) and for the exact nearest-neighbour voting it replaced (kept here as
`ExactVoting`, the reference).

--sizes measures the candidate stage alone at 10k/100k/1M items: real ORB descriptors of the
photos and distractors, and for items beyond those, copies of real items whose visual words are
partly replaced (see `synthetic_words`). Printed: build, save, load, file size, memory per item,
median and 99th-percentile candidate latency for real edited queries, and whether the planted
true item still ranks in the top 12.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import edits as edits_module  # noqa: E402
from benchmarks import local_tuning  # noqa: E402
from benchmarks.machine import describe  # noqa: E402
from provenance.local_features import ALGORITHM, VERSION, LocalFeatures, extract, extract_mirrored  # noqa: E402

CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench-cache")


def _query_cache(half: str) -> str:
    return os.path.join(CACHE, f"local-scale-queries-{half}-{ALGORITHM}-{VERSION}.npz")


def _spec_features(spec):
    kind, name, seed, _truth = spec
    image = local_tuning.query_image(kind, name, seed)
    query = extract(image, for_query=True)
    codes = [query.descriptors]
    if kind == "mirror":
        codes.append(extract_mirrored(extract(image, for_query=True, keep_working=True)).descriptors)
    return codes


def query_features(half: str, workers: int = 2):
    """(items {id: descriptors}, queries [(kind, true id, [descriptors per side])]), cached on disk."""
    path = _query_cache(half)
    if os.path.exists(path):
        with np.load(path, allow_pickle=False) as data:
            item_ids, item_sizes, item_codes = data["item_ids"], data["item_sizes"], data["item_codes"]
            kinds, truths, sides, sizes, codes = (data["kinds"], data["truths"], data["sides"],
                                                  data["sizes"], data["codes"])
        items = dict(zip(item_ids.tolist(), np.split(item_codes, np.cumsum(item_sizes)[:-1])))
        chunks = np.split(codes, np.cumsum(sizes)[:-1])
        queries, at = [], 0
        for kind, truth, n in zip(kinds.tolist(), truths.tolist(), sides.tolist()):
            queries.append((kind, truth, chunks[at:at + n]))
            at += n
        return items, queries
    photos, others = local_tuning.load_corpus(half)
    local_tuning._STATE["photos_by_name"] = {p.name: p for p in photos + others}
    images = {}
    for i, photo in enumerate(photos):
        images[i] = photo.image
        images[local_tuning.TRAP_LOGO + i] = local_tuning.with_trap_logo(photo.image)
        images[local_tuning.TRAP_BANNER + i] = local_tuning.with_trap_banner(photo.image)
    for j, (name, make) in enumerate(edits_module.DEGENERATE.items()):
        images[local_tuning.DEGENERATE_ITEM + j] = make(random.Random(f"indexed-{name}"))
    items = {item: extract(image).descriptors for item, image in images.items()}
    index_of = {p.name: i for i, p in enumerate(photos)}
    specs = [s for s in local_tuning.query_specs(photos, others) if s[0] in edits_module.EDITS
             or s[0] in ("shared_logo", "shared_banner")]
    import multiprocessing

    import cv2
    cv2.setNumThreads(1)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.map(_spec_features, specs, chunksize=8)
    queries = [(spec[0], index_of[spec[1]], codes) for spec, codes in zip(specs, results)]
    flat = [c for _, _, cs in queries for c in cs]
    os.makedirs(CACHE, exist_ok=True)
    np.savez(path, item_ids=np.array(list(items)), item_sizes=np.array([len(c) for c in items.values()]),
             item_codes=np.concatenate(list(items.values())),
             kinds=np.array([q[0] for q in queries]), truths=np.array([q[1] for q in queries]),
             sides=np.array([len(q[2]) for q in queries]), sizes=np.array([len(c) for c in flat]),
             codes=np.concatenate(flat))
    return items, queries


def distractor_codes(count: int) -> list[np.ndarray]:
    """ORB descriptors of up to `count` cached distractors (never more than the cache holds: the
    cache may be a read-only link to another checkout's file)."""
    count = min(count, cached_distractors())
    return [LocalFeatures.from_bytes(b).descriptors for b in local_tuning.distractor_blobs(count)]


class Descriptors:
    """Just what the indexes read of a LocalFeatures: its descriptors."""

    def __init__(self, descriptors: np.ndarray):
        self.descriptors = descriptors

    def __len__(self) -> int:
        return len(self.descriptors)


def recall(half: str, sizes=(1000, 10000), ks=(12, 20), step: int = 1, engines=("exact", "words")) -> None:
    """Share of queries whose true original ranks in the top k, per edit kind, new vs exact."""
    from benchmarks.exact_voting_index import ExactVotingIndex
    from provenance import local_match
    from provenance.local_index import LocalFeatureIndex

    items, queries = query_features(half)
    if step > 1:  # a fixed random subset, the same for every engine and run
        queries = [queries[i] for i in sorted(np.random.default_rng(3).choice(len(queries), len(queries) // step,
                                                                              replace=False))]
    kinds = list(dict.fromkeys(q[0] for q in queries))
    for size in sizes:
        everything = dict(items)
        for n, codes in enumerate(distractor_codes(size - len(items))):
            everything[local_tuning.DISTRACTOR_ITEM + n] = codes
        results = {}
        for name, make in (("exact", ExactVotingIndex), ("words", LocalFeatureIndex)):
            if name not in engines:
                continue
            t = time.perf_counter()
            index = make()
            index.add_many((i, Descriptors(c)) for i, c in everything.items())
            build = time.perf_counter() - t
            ranks, scores, times = true_ranks(queries, lambda codes: index.candidates(Descriptors(codes), max(ks)),
                                              time.perf_counter)
            results[name] = (ranks, scores)
            print(f"{name}: {len(everything)} items built in {build:.1f} s; candidates median "
                  f"{np.median(times) * 1000:.1f} ms, p99 {np.percentile(times, 99) * 1000:.1f} ms", flush=True)
            if name == "words":
                for engine in engines:
                    if engine.startswith("rerank"):
                        results[engine] = reranked(index, everything, queries, max(ks), engine)
        kind_of = np.array([q[0] for q in queries])
        head = " ".join(f"{name}@{k:<2d}" for k in ks for name in results)
        print(f"\n{half} half, {len(everything)} items: true original in the top k\n{'kind':22s} {'n':>4s} {head}")
        for kind in kinds + ["ALL"]:
            sel = np.ones(len(queries), bool) if kind == "ALL" else kind_of == kind
            cells = " ".join(f"{(results[name][0][sel] < k).mean():8.3f}" for k in ks for name in results)
            print(f"{kind:22s} {sel.sum():4d} {cells}")
        for name, (ranks, scores) in results.items():
            top = ranks < ks[0]
            below = (scores[top] < local_match.MIN_CANDIDATE_SCORE).mean() if top.any() else 0
            print(f"{name}: true items in the top {ks[0]} scoring below MIN_CANDIDATE_SCORE "
                  f"({local_match.MIN_CANDIDATE_SCORE}): {below:.3f}; their score p1 "
                  f"{np.percentile(scores[top], 1):.2f}, p10 {np.percentile(scores[top], 10):.2f}")
        print(flush=True)


def reranked(index, everything: dict, queries: list, k: int, engine: str):
    """(ranks, scores) of the true items after local_match.search's candidate step: the words
    propose SHORTLIST items, `local_index.rerank` orders them by exact votes. ENGINE is "rerank"
    (every shortlisted descriptor compared) or "rerankP" (P top-level cells probed)."""
    from provenance import local_match
    from provenance.local_index import rerank

    probes = int(engine[len("rerank"):]) if engine != "rerank" else None

    def ranked(codes):
        shortlist = [i for i, _ in index.candidates(Descriptors(codes), max(k, local_match.SHORTLIST))]
        return rerank(Descriptors(codes), {i: Descriptors(everything[i]) for i in shortlist}, k, probes=probes)

    ranks, scores, times = true_ranks(queries, ranked, time.process_time)
    print(f"{engine}: candidates + rerank median {np.median(times) * 1000:.1f} ms, "
          f"p99 {np.percentile(times, 99) * 1000:.1f} ms (CPU)", flush=True)
    return ranks, scores


def true_ranks(queries: list, ranked, clock):
    """(ranks, scores, seconds per side) of each query's true item among `ranked(codes)` of its
    sides (rank 99 when absent), timed with `clock`."""
    ranks, scores, times = [], [], []
    for _kind, truth, sides in queries:
        best, score = 99, 0.0
        t = clock()
        for codes in sides:
            for rank, (item, sc) in enumerate(ranked(codes)):
                if item == truth and rank < best:
                    best, score = rank, sc
        times.append((clock() - t) / len(sides))
        ranks.append(best)
        scores.append(score)
    return np.array(ranks), np.array(scores), times


def synthetic_words(words: list[np.ndarray], sigs: list[np.ndarray], count: int, replace: float, rng):
    """Postings of `count` synthetic items: copies of real items (in turn) with each descriptor's
    (word, signature) replaced, with probability `replace`, by one drawn from all those items'
    descriptors (so the skew of word frequencies, which decides posting lengths, stays that of
    real descriptors). Returns (flat words, flat signatures, sizes)."""
    pool_words, pool_sigs = np.concatenate(words), np.concatenate(sigs)
    picks = np.arange(count) % len(words)
    sizes = np.array([len(words[p]) for p in picks], dtype=np.int64)
    flat = np.concatenate([words[p] for p in picks])
    flat_sigs = np.concatenate([sigs[p] for p in picks])
    swap = np.flatnonzero(rng.random(len(flat)) < replace)
    drawn = rng.integers(0, len(pool_words), len(swap))
    flat[swap], flat_sigs[swap] = pool_words[drawn], pool_sigs[drawn]
    return flat, flat_sigs, sizes


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def full_check(index, n_queries: int, n_distractors: int) -> None:
    """Time local_match.search (extract, candidates, verification) of social-screenshot queries.

    Stored features come from blobs (as from the ledger): real ones for the photos and scenes; a
    synthetic item (id >= 1,000,000, a copy of scene (id - 1,000,000) mod scenes) is verified
    against its source scene's features, which costs the same."""
    from provenance import local_match

    photos, _ = local_tuning.load_corpus("tune")
    blobs = {i: extract(p.image).to_bytes() for i, p in enumerate(photos)}
    scenes = local_tuning.distractor_blobs(n_distractors)

    def load(item: int) -> LocalFeatures:
        if item >= 1_000_000:
            return LocalFeatures.from_bytes(scenes[(item - 1_000_000) % len(scenes)])
        if item >= local_tuning.DISTRACTOR_ITEM:
            return LocalFeatures.from_bytes(scenes[item - local_tuning.DISTRACTOR_ITEM])
        if item in blobs:
            return LocalFeatures.from_bytes(blobs[item])
        raise KeyError(item)  # a trap copy: not verified here

    def safe_load(item: int) -> LocalFeatures:
        try:
            return load(item)
        except KeyError:
            return LocalFeatures.from_bytes(scenes[0])

    times, found = [], 0
    for q in range(n_queries):
        i = q % len(photos)
        image = edits_module.social_screenshot(photos[i].image, random.Random(f"check:{q}"))
        t = time.perf_counter()
        matches = local_match.search(image, index, safe_load)
        times.append(time.perf_counter() - t)
        found += any(m.item_id == i for m in matches)
    print(f"full local search of a social screenshot at {len(index)} items ({n_queries} queries): median "
          f"{np.median(times) * 1000:.0f} ms, p90 {np.percentile(times, 90) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms; original found {found}/{n_queries}", flush=True)


def scale(sizes: list[int], n_queries: int, replace: float, checks: int = 0) -> None:
    """Candidate-stage latency, memory, file size and load time at each size."""
    import tempfile

    from provenance import local_index
    from provenance.local_index import LocalFeatureIndex

    items, queries = query_features("tune")
    real = dict(items)
    for n, codes in enumerate(distractor_codes(max(sizes))):
        real[local_tuning.DISTRACTOR_ITEM + n] = codes
    vocab = local_index.vocabulary()
    t = time.perf_counter()
    real_ids = np.array(list(real), dtype=np.int64)
    real_words = [vocab.quantize(c, 1)[:, 0] for c in real.values()]
    real_sigs = [local_index.signature(c) for c in real.values()]
    per_item = (time.perf_counter() - t) / len(real)
    print(f"{len(real)} real items ({sum(map(len, real_words))} descriptors) quantised: "
          f"{per_item * 1000:.2f} ms per item", flush=True)
    distractor_words = [w for i, w in zip(real_ids, real_words) if i >= local_tuning.DISTRACTOR_ITEM]
    distractor_sigs = [w for i, w in zip(real_ids, real_sigs) if i >= local_tuning.DISTRACTOR_ITEM]
    rng = np.random.default_rng(7)
    chosen = [queries[i] for i in rng.choice(len(queries), min(n_queries, len(queries)), replace=False)]
    print(f"{'items':>9s} {'build s':>8s} {'save s':>7s} {'load s':>7s} {'file MB':>8s} {'B/item':>7s} "
          f"{'RSS B/item':>10s} {'p50 ms':>7s} {'p99 ms':>7s} {'top12':>6s}", flush=True)
    for size in sizes:
        base_rss = rss_bytes()
        t = time.perf_counter()
        index = LocalFeatureIndex()
        take = min(size, len(real))
        order = np.argsort(real_ids[:take])
        index.add_words(real_ids[:take][order], np.concatenate([real_words[i] for i in order]),
                        np.concatenate([real_sigs[i] for i in order]), np.array([len(real_words[i]) for i in order]))
        next_id, left, batch = 1_000_000, size - take, 20_000
        while left > 0:
            n = min(batch, left)
            flat, flat_sigs, counts = synthetic_words(distractor_words, distractor_sigs, n, replace, rng)
            index.add_words(np.arange(next_id, next_id + n), flat, flat_sigs, counts)
            next_id, left = next_id + n, left - n
        index._merge()
        build = time.perf_counter() - t
        with tempfile.TemporaryDirectory(dir=os.environ.get("LOCAL_SCALE_TMP")) as tmp:
            path = os.path.join(tmp, "orb.index")
            t = time.perf_counter()
            index.save(path)
            save = time.perf_counter() - t
            file_mb = os.path.getsize(path) / 1e6
            del index
            t = time.perf_counter()
            index = LocalFeatureIndex.load(path)
            load = time.perf_counter() - t
        rss = rss_bytes() - base_rss
        latencies, found = [], 0
        for kind, truth, sides in chosen:
            codes = sides[-1] if kind == "mirror" else sides[0]
            t = time.perf_counter()
            top = index.candidates(Descriptors(codes), 12)
            latencies.append(time.perf_counter() - t)
            found += any(item == truth for item, _ in top)
        print(f"{size:9d} {build:8.1f} {save:7.2f} {load:7.2f} {file_mb:8.1f} {index.nbytes / size:7.0f} "
              f"{rss / size:10.0f} {np.median(latencies) * 1000:7.1f} {np.percentile(latencies, 99) * 1000:7.1f} "
              f"{found / len(chosen):6.3f}", flush=True)
        if checks and size == max(sizes):
            full_check(index, checks, len(distractor_words))
        del index


def cached_distractors() -> int:
    path = os.path.join(CACHE, f"local-distractors-{ALGORITHM}-{VERSION}.npz")
    if not os.path.exists(path):
        return 0
    with np.load(path, allow_pickle=False) as data:
        return len(data["sizes"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recall", action="store_true")
    parser.add_argument("--half", default="tune", choices=["tune", "report"])
    parser.add_argument("--cache-only", action="store_true")
    parser.add_argument("--recall-sizes", default="1000,10000")
    parser.add_argument("--step", type=int, default=1, help="use every step-th query (faster, coarser)")
    parser.add_argument("--engines", default="exact,words")
    parser.add_argument("--sizes", default="", help="comma-separated index sizes for the scale run")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--check", type=int, default=0,
                        help="also time this many full local searches of screenshots at the largest size")
    parser.add_argument("--replace", type=float, default=0.5,
                        help="share of words replaced in synthetic copies of real items")
    args = parser.parse_args()
    print(describe())
    if args.sizes:
        scale([int(x) for x in args.sizes.split(",")], args.queries, args.replace, args.check)
    if args.recall:
        recall(args.half, tuple(int(x) for x in args.recall_sizes.split(",")), step=args.step,
               engines=tuple(args.engines.split(",")))
    if args.cache_only:
        items, queries = query_features(args.half)
        print(len(items), "items", len(queries), "queries")


if __name__ == "__main__":
    main()
