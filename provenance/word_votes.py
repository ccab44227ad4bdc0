"""The inner loop of the visual-word index's vote (local_index.LocalFeatureIndex.candidates).

A never-indexed screenshot against a million items compares its ~2,500 (word, descriptor) pairs
with ~22 million postings, of which ~3.6 million vote. In NumPy each step makes an array as long
as the postings touched (signatures gathered, XOR, bit count, positions, votes, weights): the
candidate step took ~118 ms per look, and such a query takes five looks. A loop compiled by numba
makes none of them: ~43 ms, with the same candidates and scores.
Importing numba and loading the compiled loop costs a process ~0.5 s, more than NumPy spends on
a small index's votes, so a vote is compiled only when it touches COMPILED_FROM postings or more:
a check against a small ledger never imports numba. Figures: benchmarks/RESULTS.md.

numba compiles the loop on first use and caches the machine code beside this file (or in the
user's cache directory where this one is read-only), so later processes only load it.
"""

from __future__ import annotations

import numpy as np

#: Postings touched by one vote from which the compiled loop is used (~100,000 items indexed for a
#: screenshot's look). NumPy costs ~5 ns per posting touched, the compiled loop ~1.6 ns.
COMPILED_FROM = 2_000_000
#: Postings tested at a time per pair by the compiled loop (1,024 to 16,384 ran alike), and by
#: NumPy (pairs at a time: their signatures then stay in the CPU's cache; 64 was 2x faster than all).
CHUNK = 4096
NUMPY_PAIRS = 64

_KERNEL = None


def add_near_votes(scores: np.ndarray, starts: np.ndarray, ends: np.ndarray, query_signatures: np.ndarray,
                   weights: np.ndarray, signatures: np.ndarray, postings: np.ndarray, max_distance: int,
                   *, compiled: bool | None = None) -> None:
    """For each pair p, add weights[p] to scores[postings[j]] for every j in starts[p]:ends[p]
    whose signatures[j] lies within max_distance bits of query_signatures[p], pair by pair and
    posting by posting. `compiled` forces one way or the other (None: by COMPILED_FROM)."""
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    ends = np.ascontiguousarray(ends, dtype=np.int64)
    query_signatures = np.ascontiguousarray(query_signatures, dtype=np.uint64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    if compiled is None:
        compiled = int((ends - starts).sum()) >= COMPILED_FROM
    if compiled:
        _kernel()(scores, starts, ends, query_signatures, weights, signatures, postings, int(max_distance))
        return
    query_signatures = query_signatures.astype(signatures.dtype)
    positions, pairs = [], []
    for lo in range(0, len(starts), NUMPY_PAIRS):
        hi = min(lo + NUMPY_PAIRS, len(starts))
        lengths = ends[lo:hi] - starts[lo:hi]
        gathered = np.concatenate([signatures[a:b] for a, b in zip(starts[lo:hi].tolist(), ends[lo:hi].tolist())]
                                  + [np.zeros(0, signatures.dtype)])
        near = np.flatnonzero(np.bitwise_count(gathered ^ np.repeat(query_signatures[lo:hi], lengths))
                              <= max_distance)
        ends_at = np.cumsum(lengths)
        per_pair = np.diff(np.searchsorted(near, ends_at), prepend=0)  # near is sorted
        positions.append(near + np.repeat(starts[lo:hi] - (ends_at - lengths), per_pair))
        pairs.append(np.repeat(np.arange(lo, hi), per_pair))
    if positions:
        positions, pairs = np.concatenate(positions), np.concatenate(pairs)
        scores += np.bincount(postings[positions], weights=weights[pairs], minlength=len(scores))


def _kernel():
    """The compiled loop (imports numba and compiles or loads it once per process)."""
    global _KERNEL
    if _KERNEL is None:
        import numba

        def near_votes(scores, starts, ends, query_signatures, weights, signatures, postings, max_distance):
            # Per pair and CHUNK postings at a time: first which postings are near (a loop without
            # branches, which LLVM vectorises, its bit count included), then their positions,
            # then their votes: 35 ms where testing and voting posting by posting took 56-60
            # (the branch, not memory, was the cost).
            near = np.empty(CHUNK, np.bool_)
            hits = np.empty(CHUNK, np.int64)
            limit = np.uint64(max_distance)
            m1, m2, m4 = np.uint64(0x5555555555555555), np.uint64(0x3333333333333333), np.uint64(0x0F0F0F0F0F0F0F0F)
            ones, one, two, four, top = (np.uint64(0x0101010101010101), np.uint64(1), np.uint64(2), np.uint64(4),
                                         np.uint64(56))
            for p in range(starts.shape[0]):
                q, w = query_signatures[p], weights[p]
                lo, hi = starts[p], ends[p]
                while lo < hi:
                    n = min(hi - lo, CHUNK)
                    segment = signatures[lo:lo + n]
                    for i in range(n):
                        x = np.uint64(segment[i]) ^ q
                        x = x - ((x >> one) & m1)
                        x = (x & m2) + ((x >> two) & m2)
                        x = (x + (x >> four)) & m4
                        near[i] = ((x * ones) >> top) <= limit
                    found = 0
                    for i in range(n):
                        hits[found] = i
                        found += near[i]
                    owners = postings[lo:lo + n]
                    for i in range(found):
                        scores[owners[hits[i]]] += w
                    lo += n

        try:
            _KERNEL = numba.njit(cache=True, nogil=True, boundscheck=False)(near_votes)
        except RuntimeError:  # nowhere writable to cache it: compiled in each process instead
            _KERNEL = numba.njit(nogil=True, boundscheck=False)(near_votes)
    return _KERNEL
