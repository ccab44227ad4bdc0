"""Train the visual-word vocabulary of the local-feature index (provenance/data/orb-words-*.npz).

    python -m benchmarks.train_local_vocabulary [--branching 256 256] [--sample 600000]

A two-level hierarchical binary k-means (k-majority: faiss k-means on the 0/1 bits, centroids
rounded back to bits), as DBoW2 builds for ORB-SLAM place recognition. Trained on ORB
descriptors of the TUNE half of the photo corpus and of generated distractor scenes
(benchmarks/edits.py), never on the report half. The shipped file was trained on generated
scenes only (the default); --with-tune-photos adds the tune half's photos and edited queries. The vocabulary is shipped with the package so
that the index never needs retraining: new items are quantised and appended.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import faiss
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import local_scale  # noqa: E402
from benchmarks.machine import describe  # noqa: E402
from provenance import local_index  # noqa: E402


def kmajority(codes: np.ndarray, k: int, seed: int, niter: int = 12) -> np.ndarray:
    """k binary centroids (uint8 rows of 32 bytes) of binary codes."""
    bits = np.unpackbits(codes, axis=1).astype(np.float32)
    k = min(k, len(codes))
    km = faiss.Kmeans(bits.shape[1], k, niter=niter, seed=seed, verbose=False,
                      min_points_per_centroid=1, max_points_per_centroid=100000)
    km.train(bits)
    return np.packbits(km.centroids > 0.5, axis=1)


def train(codes: np.ndarray, branching: tuple[int, int], seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(top centroids (K1, 32), leaf centroids (K1, K2, 32), leaves used per cell (K1,))."""
    k1, k2 = branching
    top = kmajority(codes, k1, seed)
    flat = faiss.IndexBinaryFlat(256)
    flat.add(top)
    _, cell = flat.search(codes, 1)
    cell = cell[:, 0]
    leaves = np.zeros((k1, k2, 32), dtype=np.uint8)
    counts = np.zeros(k1, dtype=np.int64)
    for c in range(k1):
        members = codes[cell == c]
        if len(members) == 0:
            leaves[c, 0], counts[c] = top[c], 1
            continue
        cents = np.unique(kmajority(members, min(k2, len(members)), seed + c), axis=0)
        leaves[c, :len(cents)], counts[c] = cents, len(cents)
    return top, leaves, counts


def training_codes(sample: int, seed: int = 0, photos: bool = True) -> np.ndarray:
    parts = local_scale.distractor_codes(local_scale.cached_distractors())
    if photos:
        items, queries = local_scale.query_features("tune")
        parts += list(items.values()) + [c for _, _, cs in queries for c in cs]
    codes = np.concatenate(parts)
    rng = np.random.default_rng(seed)
    return codes[rng.choice(len(codes), min(sample, len(codes)), replace=False)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--branching", type=int, nargs=2, default=list(local_index.VOCABULARY_BRANCHING))
    parser.add_argument("--sample", type=int, default=400_000)
    parser.add_argument("--out", default=local_index.VOCABULARY_PATH)
    parser.add_argument("--with-tune-photos", action="store_true", help="also train on the tune half")
    args = parser.parse_args()
    print(describe())
    faiss.omp_set_num_threads(2)
    t = time.perf_counter()
    codes = training_codes(args.sample, photos=args.with_tune_photos)
    print(f"{len(codes)} training descriptors", flush=True)
    top, leaves, counts = train(codes, tuple(args.branching))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    np.savez_compressed(args.out, top=top, leaves=leaves, counts=counts)
    print(f"wrote {args.out}: {top.shape[0]} x {leaves.shape[1]} words in {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
