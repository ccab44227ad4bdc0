"""Search structures over stored global hashes.

:class:`HashIndex` answers "which indexed hashes lie within Hamming distance d of this one?"
by an exact scan of packed bits (XOR + popcount in numpy), which is the reference any faster
structure must agree with, and is fast enough for the sizes a desk ledger holds
(benchmarks/search_latency.py gives the figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HashHit:
    """One indexed hash near a query: the item, the distance, and which query variant hit."""

    item_id: int
    distance: int
    variant: int


class HashIndex:
    """Exact Hamming search over packed binary hashes of one algorithm."""

    def __init__(self, bits: int):
        if bits % 8:
            raise ValueError("hash length must be a whole number of bytes")
        self.bits = bits
        self._pending_codes: list[np.ndarray] = []
        self._pending_ids: list[int] = []
        self._codes = np.zeros((0, bits // 8), dtype=np.uint8)
        self._ids = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ids) + len(self._pending_ids)

    def add(self, item_id: int, hex_value: str) -> None:
        """Add one item's hash (hex string of exactly ``bits`` bits)."""
        self._pending_codes.append(self._pack(hex_value))
        self._pending_ids.append(item_id)

    def search(self, hex_values: list[str], max_distance: int) -> list[HashHit]:
        """Items within max_distance of any query hash, each once at its smallest distance."""
        self._flush()
        if not len(self._ids) or not hex_values:
            return []
        queries = np.stack([self._pack(h) for h in hex_values])
        # (variants, items) distance matrix, one variant row at a time to bound memory.
        best_dist = np.full(len(self._ids), self.bits + 1, dtype=np.int32)
        best_variant = np.zeros(len(self._ids), dtype=np.int32)
        for variant, query in enumerate(queries):
            dist = np.bitwise_count(np.bitwise_xor(self._codes, query)).sum(axis=1, dtype=np.int32)
            better = dist < best_dist
            best_dist[better] = dist[better]
            best_variant[better] = variant
        hits = np.nonzero(best_dist <= max_distance)[0]
        order = hits[np.argsort(best_dist[hits], kind="stable")]
        return [HashHit(int(self._ids[i]), int(best_dist[i]), int(best_variant[i])) for i in order]

    def _pack(self, hex_value: str) -> np.ndarray:
        raw = bytes.fromhex(hex_value)
        if len(raw) * 8 != self.bits:
            raise ValueError(f"expected a {self.bits}-bit hash, got {len(raw) * 8} bits")
        return np.frombuffer(raw, dtype=np.uint8)

    def _flush(self) -> None:
        if self._pending_ids:
            self._codes = np.concatenate([self._codes, np.stack(self._pending_codes)])
            self._ids = np.concatenate([self._ids, np.asarray(self._pending_ids, dtype=np.int64)])
            self._pending_codes.clear()
            self._pending_ids.clear()
