"""Search structures over stored global hashes (PDQ 256 bits, pHash 64 bits).

Two indexes answer the same question, "which indexed hashes lie within Hamming distance r of
this one?", and must agree (tests/test_index.py checks it):

- :class:`BruteForceHashIndex` scans every code (XOR + popcount in numpy): the reference.
- :class:`HashIndex` is multi-index hashing (Norouzi et al., "Fast search in Hamming space with
  multi-index hashing", CVPR 2012): each code is cut into 16-bit substrings, and by the pigeonhole
  principle a code within distance r of the query has at least one substring within
  ``r // substrings`` of the query's; counted, it has at most ``r // (r // substrings + 1)``
  substrings farther than that, so rows found in fewer of the others are dropped unmeasured. Each
  substring column is kept sorted, so the candidates are a few binary searches away, and only they
  are compared in full. A million PDQ hashes answer in
  milliseconds (benchmarks/search_latency.py) instead of the ~0.3 s of a scan.

Both persist to a ``.npz`` file (no pickle) and grow incrementally: new codes wait in a small
buffer that is scanned directly, and are merged into the sorted columns when it fills.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import numpy as np

#: Bits per substring: 16 keeps buckets small (a million codes / 65,536 values) and tables short.
SUBSTRING_BITS = 16
#: New codes scanned directly until this many, then merged into the sorted columns.
MERGE_AFTER = 4096
#: A search farther than this share of the bits scans every code instead: its probes would find
#: most rows anyway. A million random PDQ hashes, 2 query hashes: multi-index hashing 20 ms at 48
#: bits, 59 at 64, 91 at 72, 221 at 80; the scan 61-65 ms at any distance.
SCAN_BEYOND_SHARE = 0.25
#: A search that scans every code (SCAN_BEYOND_SHARE; a part's lookup, matcher.near_by_hash) first
#: keeps the codes near any query variant, measuring a block of this many rows at a time, word by
#: word, so that the block stays in the CPU's cache; only those kept are measured against each
#: variant. A million random PDQ hashes, 2 variants: 53-68 ms measuring whole rows of all of them
#: against each variant, 16 ms in blocks of 8,192 (17 of 32,768, 24 of 131,072).
WORDWISE_BLOCK = 8192


@dataclass(frozen=True)
class HashHit:
    """One indexed hash near a query: the item, the distance, and which query variant hit."""

    item_id: int
    distance: int
    variant: int


def _pack(hex_value: str, bits: int) -> np.ndarray:
    raw = bytes.fromhex(hex_value)
    if len(raw) * 8 != bits:
        raise ValueError(f"expected a {bits}-bit hash, got {len(raw) * 8} bits")
    return np.frombuffer(raw, dtype=np.uint8)


def _distances(codes: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance of every row of codes to the query (both packed bytes)."""
    if codes.shape[1] % 8 == 0:  # 64-bit words: 8x fewer popcounts than bytes
        words = np.ascontiguousarray(codes).view(np.uint64)
        q = np.ascontiguousarray(query).view(np.uint64)
        return np.bitwise_count(np.bitwise_xor(words, q)).sum(axis=1, dtype=np.int32)
    return np.bitwise_count(np.bitwise_xor(codes, query)).sum(axis=1, dtype=np.int32)


def _within(codes: np.ndarray, queries: np.ndarray, max_distance: int) -> np.ndarray:
    """Which rows of codes lie within max_distance of any of the queries (rows of packed bytes, a
    whole number of 64-bit words), measured a block of WORDWISE_BLOCK rows at a time."""
    words = np.ascontiguousarray(codes).view(np.uint64)
    query_words = np.ascontiguousarray(queries).view(np.uint64)
    near = np.empty(len(words), dtype=bool)
    for start in range(0, len(words), WORDWISE_BLOCK):
        block = words[start:start + WORDWISE_BLOCK]
        nearest = None
        for q in query_words:
            dist = np.bitwise_count(block[:, 0] ^ q[0]).astype(np.int32)
            for j in range(1, block.shape[1]):
                dist += np.bitwise_count(block[:, j] ^ q[j])
            nearest = dist if nearest is None else np.minimum(nearest, dist)
        near[start:start + len(block)] = nearest <= max_distance
    return near


def _best_hits(ids: np.ndarray, dist: np.ndarray, variant: np.ndarray, max_distance: int) -> list[HashHit]:
    keep = dist <= max_distance
    ids, dist, variant = ids[keep], dist[keep], variant[keep]
    order = np.lexsort((variant, ids, dist))
    hits, seen = [], set()
    for i in order:
        item = int(ids[i])
        if item not in seen:
            seen.add(item)
            hits.append(HashHit(item, int(dist[i]), int(variant[i])))
    return hits


class BruteForceHashIndex:
    """Exact Hamming search by scanning every code: simple, and the reference for HashIndex."""

    def __init__(self, bits: int):
        if bits % SUBSTRING_BITS:
            raise ValueError(f"hash length must be a multiple of {SUBSTRING_BITS} bits")
        self.bits = bits
        self._chunks: list[np.ndarray] = [np.zeros((0, bits // 8), dtype=np.uint8)]
        self._id_chunks: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]

    def __len__(self) -> int:
        return sum(len(c) for c in self._id_chunks)

    def add(self, item_id: int, hex_value: str) -> None:
        """Add one item's hash (hex string of exactly ``bits`` bits)."""
        self._chunks.append(_pack(hex_value, self.bits)[None, :])
        self._id_chunks.append(np.asarray([item_id], dtype=np.int64))

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
            self._id_chunks = [np.concatenate(self._id_chunks)]
        return self._chunks[0], self._id_chunks[0]

    def search(self, hex_values: list[str], max_distance: int) -> list[HashHit]:
        """Items within max_distance of any query hash, each once at its smallest distance."""
        codes, ids = self._arrays()
        if not len(ids) or not hex_values:
            return []
        all_ids, all_dist, all_var = [], [], []
        for variant, hex_value in enumerate(hex_values):
            dist = _distances(codes, _pack(hex_value, self.bits))
            near = dist <= max_distance
            all_ids.append(ids[near])
            all_dist.append(dist[near])
            all_var.append(np.full(int(near.sum()), variant, dtype=np.int32))
        return _best_hits(np.concatenate(all_ids), np.concatenate(all_dist), np.concatenate(all_var), max_distance)


class HashIndex:
    """Multi-index hashing over packed binary hashes of one algorithm (see module docstring)."""

    def __init__(self, bits: int):
        if bits % SUBSTRING_BITS:
            raise ValueError(f"hash length must be a multiple of {SUBSTRING_BITS} bits")
        self.bits = bits
        self.substrings = bits // SUBSTRING_BITS
        self._codes = np.zeros((0, bits // 8), dtype=np.uint8)
        self._ids = np.zeros(0, dtype=np.int64)
        # per substring: its values sorted, and the row each sorted value came from
        self._sorted_values = np.zeros((self.substrings, 0), dtype=np.uint16)
        self._sorted_rows = np.zeros((self.substrings, 0), dtype=np.int64)
        self._pending_codes: list[np.ndarray] = []
        self._pending_ids: list[int] = []

    def __len__(self) -> int:
        return len(self._ids) + len(self._pending_ids)

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays (codes, ids, sorted substring tables)."""
        return self._codes.nbytes + self._ids.nbytes + self._sorted_values.nbytes + self._sorted_rows.nbytes

    def add(self, item_id: int, hex_value: str) -> None:
        """Add one item's hash (hex string of exactly ``bits`` bits)."""
        self._pending_codes.append(_pack(hex_value, self.bits))
        self._pending_ids.append(item_id)
        if len(self._pending_ids) >= MERGE_AFTER:
            self._merge()

    def add_many(self, item_ids: np.ndarray, codes: np.ndarray) -> None:
        """Add many packed codes at once (rows of bits/8 bytes), e.g. when building from a ledger."""
        self._merge()
        self._codes = np.concatenate([self._codes, codes.astype(np.uint8, copy=False)])
        self._ids = np.concatenate([self._ids, item_ids.astype(np.int64, copy=False)])
        self._resort()

    def _merge(self) -> None:
        if not self._pending_ids:
            return
        codes = np.stack(self._pending_codes)
        ids = np.asarray(self._pending_ids, dtype=np.int64)
        self._pending_codes, self._pending_ids = [], []
        self._codes = np.concatenate([self._codes, codes])
        self._ids = np.concatenate([self._ids, ids])
        self._resort()

    def _substring_values(self, codes: np.ndarray) -> np.ndarray:
        """(substrings, n) uint16 view of the codes' 16-bit pieces, big-endian as the hex reads."""
        pairs = codes.reshape(len(codes), self.substrings, 2).astype(np.uint16)
        return ((pairs[:, :, 0] << 8) | pairs[:, :, 1]).T

    def _resort(self) -> None:
        values = self._substring_values(self._codes)
        order = np.argsort(values, axis=1, kind="stable")
        self._sorted_rows = order
        self._sorted_values = np.take_along_axis(values, order, axis=1)

    def search(self, hex_values: list[str], max_distance: int) -> list[HashHit]:
        """Items within max_distance of any query hash, each once at its smallest distance."""
        if not hex_values or not len(self):
            return []
        queries = np.stack([_pack(h, self.bits) for h in hex_values])
        if max_distance > SCAN_BEYOND_SHARE * self.bits:
            codes, ids = self._codes, self._ids
        else:
            radius = max_distance // self.substrings
            rows = self._candidate_rows(self._substring_values(queries), _flip_masks(SUBSTRING_BITS, radius))
            # Pigeonhole, counted: a hash within max_distance has at most max_distance // (radius + 1)
            # substrings farther than the probe radius, so it is found in all the others. Rows found in
            # fewer substrings are dropped before any distance is measured (at a million PDQ hashes,
            # 8 variants within 24: ~33,000 rows found, a handful kept; median 26 ms -> 5.8 ms).
            rows, found_in = np.unique(rows, return_counts=True)
            rows = rows[found_in >= self.substrings - max_distance // (radius + 1)]
            codes, ids = self._codes[rows], self._ids[rows]
        if self._pending_ids:
            codes = np.concatenate([codes, np.stack(self._pending_codes)])
            ids = np.concatenate([ids, np.asarray(self._pending_ids, dtype=np.int64)])
        if not len(ids):
            return []
        if len(ids) >= WORDWISE_BLOCK and codes.shape[1] % 8 == 0:
            near = _within(codes, queries, max_distance)  # every code: keep the few near a variant
            codes, ids = codes[near], ids[near]
        # (variants, candidates) distances; every candidate against every variant
        dist = np.stack([_distances(codes, q) for q in queries])
        variant = dist.argmin(axis=0).astype(np.int32)
        return _best_hits(ids, dist.min(axis=0), variant, max_distance)

    def _candidate_rows(self, q_values: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Rows sharing, in some substring, a value within the probe radius of a query's."""
        if not len(self._ids):
            return np.zeros(0, dtype=np.int64)
        found = []
        for s in range(self.substrings):
            probes = np.unique(np.bitwise_xor.outer(q_values[s], masks).ravel())
            column = self._sorted_values[s]
            lo = np.searchsorted(column, probes, side="left")
            hi = np.searchsorted(column, probes, side="right")
            lengths = hi - lo
            total = int(lengths.sum())
            if total:
                # positions lo[i] .. hi[i]-1 of every probe i, without a Python loop
                starts = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
                found.append(self._sorted_rows[s, starts + np.arange(total)])
        # a row appears once for each substring in which it was found (search counts them)
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    # --- persistence ---------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to a .npz file (codes, ids and sorted tables; no pickle)."""
        self._merge()
        with open(path, "wb") as fh:
            np.savez(fh, bits=np.asarray([self.bits]), codes=self._codes, ids=self._ids,
                     sorted_values=self._sorted_values, sorted_rows=self._sorted_rows)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "HashIndex":
        """Read an index written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            index = cls(int(data["bits"][0]))
            index._codes, index._ids = data["codes"], data["ids"]
            index._sorted_values, index._sorted_rows = data["sorted_values"], data["sorted_rows"]
        if index._sorted_values.shape != (index.substrings, len(index._ids)):
            raise ValueError(f"{path}: inconsistent index file")
        return index


def _flip_masks(bits: int, radius: int) -> np.ndarray:
    """Every XOR mask of ``bits`` bits with at most ``radius`` bits set (0 included)."""
    masks = [0]
    for r in range(1, radius + 1):
        for positions in itertools.combinations(range(bits), r):
            m = 0
            for p in positions:
                m |= 1 << p
            masks.append(m)
    return np.asarray(masks, dtype=np.uint16)
