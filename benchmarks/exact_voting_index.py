"""The local-feature index as it was before the visual-word index (commit 51b4159), kept as the
reference for benchmarks/local_scale.py: exact nearest-neighbour voting over every stored
descriptor (faiss flat, IVF above 100,000 descriptors). ~16 KB per item; not used by the package.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

import faiss
import numpy as np

from provenance.local_features import LocalFeatures
from provenance.local_index import burst_weights

# One query is a few thousand descriptors: faiss's OpenMP threads cost far more in start-up and
# spinning than they save at that size, and on a busy 2-core machine they made each search
# 100x slower (1.3 s instead of ~10 ms, measured). Parallelism comes from scan worker processes.
faiss.omp_set_num_threads(1)

DESCRIPTOR_BITS = 256
# Above this many stored descriptors a flat scan costs more than ~50 ms per
# query side (1,500 query descriptors x 100k x 256 bits), so switch to IVF.
IVF_MIN_DESCRIPTORS = 100_000
# IVF lists: ~2 sqrt(N) clusters for the N held when (re)built, capped at
# IVF_MAX_LISTS; the index is rebuilt (retrained) whenever it has grown
# REBUILD_GROWTH-fold since, so lists stay short as the collection grows.
IVF_MAX_LISTS = 4096
REBUILD_GROWTH = 4
TRAIN_POINTS_PER_LIST = 40  # faiss warns below 39
# Lists probed per query descriptor.  benchmarks/local_tuning.py --timing
# 10000 (2.67 M descriptors, 3,266 lists): 4 probes 49 ms per query side,
# 8 probes 79 ms, 16 probes ~150 ms, with the same rank of the true item
# (median and 90th percentile rank 0 in all three) -- votes are redundant.
IVF_NPROBE = 4
# Neighbours looked up per query descriptor; the Hamming distance beyond which
# a neighbour casts no vote; and how much farther than the nearest neighbour a
# neighbour may be and still vote.  Measured (benchmarks/local_tuning.py,
# 660-item index): true neighbours median 22-44 bits, 90th percentile 41-60;
# nearest unrelated neighbour median 35-51.  Voting only for the nearest
# (+margin) within 48 bits gave the true item 4-12x the votes of the best
# unrelated item, where voting for all 8 neighbours within 64 gave 1.6-4x
# (text corners of screenshots vote for every item that contains text).
NEIGHBOURS = 8
MAX_VOTE_DISTANCE = 48
VOTE_MARGIN = 6


class ExactVotingIndex:
    """Descriptors of indexed items, answering "which items look like this?".

    `candidates()` returns item ids ranked by how many query descriptors found
    one of the item's descriptors among their nearest neighbours; those are
    only candidates, to be confirmed by `local_match.verify`.
    """

    def __init__(self) -> None:
        self._index: faiss.IndexBinary = _flat_index()
        self._counts: dict[int, int] = {}
        self._trained_size = 0

    def __len__(self) -> int:
        return len(self._counts)

    def __contains__(self, item_id: int) -> bool:
        return int(item_id) in self._counts

    @property
    def descriptor_count(self) -> int:
        """Number of descriptors stored, over all items."""
        return int(self._index.ntotal)

    @property
    def is_ivf(self) -> bool:
        """True once the index has switched from a flat scan to IVF."""
        return isinstance(self._index, faiss.IndexBinaryIVF)

    def add(self, item_id: int, features: LocalFeatures) -> None:
        """Index an item's descriptors, replacing any previous ones of that id."""
        self.add_many([(item_id, features)])

    def add_many(self, items: Iterable[tuple[int, LocalFeatures]]) -> None:
        """Index many items (replacing earlier ones of the same ids); one rebuild check at the end."""
        for item_id, features in items:
            item_id = int(item_id)
            if item_id in self._counts:
                self.remove(item_id)
            codes = np.ascontiguousarray(features.descriptors, dtype=np.uint8)
            self._counts[item_id] = len(codes)
            if len(codes):
                self._index.add_with_ids(codes, np.full(len(codes), item_id, dtype=np.int64))
        self._maybe_rebuild()

    def remove(self, item_id: int) -> bool:
        """Drop an item; returns whether it was there.

        Cost is a scan of the stored ids (faiss compacts its arrays): tens of
        milliseconds at millions of descriptors, fine for occasional removals,
        not for bulk churn (rebuild from scratch instead).
        """
        item_id = int(item_id)
        if self._counts.pop(item_id, None) is None:
            return False
        self._index.remove_ids(faiss.IDSelectorBatch(np.array([item_id], dtype=np.int64)))
        return True

    def candidates(self, query: LocalFeatures, k: int = 20) -> list[tuple[int, float]]:
        """Up to k (item_id, score) pairs, best first.

        Each query descriptor votes once for each item holding one of its
        NEIGHBOURS nearest descriptors, if that descriptor is within
        MAX_VOTE_DISTANCE bits and within VOTE_MARGIN bits of the nearest one.
        The margin keeps a vote specific: a corner of the picture usually has
        one clearly nearest neighbour (or a few equally near ones, when the
        same picture is indexed more than once).  Votes are weighted down for
        "bursty" query descriptors (see `burst_weights`): the text of a
        screenshot repeats the same glyph corners and would otherwise vote
        for every indexed item that contains text.
        """
        if len(query) == 0 or self._index.ntotal == 0:
            return []
        codes = np.ascontiguousarray(query.descriptors, dtype=np.uint8)
        distances, ids = self._index.search(codes, min(NEIGHBOURS, int(self._index.ntotal)))
        limit = np.minimum(distances[:, :1] + VOTE_MARGIN, MAX_VOTE_DISTANCE)
        ids = np.where((distances <= limit) & (ids >= 0), ids, -1)
        rows = np.repeat(np.arange(len(ids)), ids.shape[1])
        pairs = np.stack([rows, ids.ravel()], axis=1)
        pairs = pairs[pairs[:, 1] >= 0]
        if len(pairs) == 0:
            return []
        pairs = np.unique(pairs, axis=0)  # one vote per (query descriptor, item)
        items, inverse = np.unique(pairs[:, 1], return_inverse=True)
        scores = np.bincount(inverse, weights=burst_weights(codes)[pairs[:, 0]])
        order = np.lexsort((items, -scores))[:k]
        return [(int(items[i]), round(float(scores[i]), 3)) for i in order]

    def save(self, path: str | os.PathLike) -> None:
        """Write the faiss index and the item table to one .npz file (no pickle)."""
        serialised = faiss.serialize_index_binary(self._index)
        table = np.array(sorted(self._counts.items()), dtype=np.int64).reshape(-1, 2)
        with open(path, "wb") as handle:
            np.savez(handle, faiss=serialised, items=table,
                     trained_size=np.array([self._trained_size], dtype=np.int64))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ExactVotingIndex":
        """Read an index written by `save`."""
        with np.load(path, allow_pickle=False) as data:
            index = cls()
            index._index = faiss.deserialize_index_binary(data["faiss"])
            index._counts = {int(i): int(n) for i, n in data["items"]}
            index._trained_size = int(data["trained_size"][0])
        if isinstance(index._index, faiss.IndexBinaryIVF):
            index._index.nprobe = IVF_NPROBE
        return index

    def _maybe_rebuild(self) -> None:
        """Switch to IVF past IVF_MIN_DESCRIPTORS; retrain after large growth."""
        total = int(self._index.ntotal)
        if total < IVF_MIN_DESCRIPTORS:
            return
        if self.is_ivf and total < REBUILD_GROWTH * self._trained_size:
            return
        codes, ids = _all_codes(self._index)
        self._index = _trained_ivf(codes)
        self._index.add_with_ids(codes, ids)
        self._trained_size = total


def _flat_index() -> faiss.IndexBinary:
    return faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(DESCRIPTOR_BITS))


def _trained_ivf(codes: np.ndarray) -> faiss.IndexBinaryIVF:
    """An IVF index with ~2 sqrt(N) lists, trained on an evenly spaced sample."""
    n_lists = int(min(IVF_MAX_LISTS, max(64, 2 * np.sqrt(len(codes)))))
    quantizer = faiss.IndexBinaryFlat(DESCRIPTOR_BITS)
    index = faiss.IndexBinaryIVF(quantizer, DESCRIPTOR_BITS, n_lists)
    index.own_fields = True
    quantizer.this.disown()
    index.cp.niter = 10
    n_train = min(len(codes), n_lists * TRAIN_POINTS_PER_LIST)
    sample = codes[np.linspace(0, len(codes) - 1, n_train).astype(np.int64)]
    index.train(np.ascontiguousarray(sample))
    index.nprobe = IVF_NPROBE
    return index


def _all_codes(index: faiss.IndexBinary) -> tuple[np.ndarray, np.ndarray]:
    """Every stored (code, id) of a flat-with-id-map or IVF binary index."""
    if isinstance(index, faiss.IndexBinaryIVF):
        invlists = index.invlists
        codes, ids = [], []
        for list_no in range(index.nlist):
            size = invlists.list_size(list_no)
            if size == 0:
                continue
            code_ptr = invlists.get_codes(list_no)
            id_ptr = invlists.get_ids(list_no)
            codes.append(faiss.rev_swig_ptr(code_ptr, size * index.code_size).copy())
            ids.append(faiss.rev_swig_ptr(id_ptr, size).copy())
            invlists.release_codes(list_no, code_ptr)
            invlists.release_ids(list_no, id_ptr)
        return (np.concatenate(codes).reshape(-1, index.code_size),
                np.concatenate(ids).astype(np.int64))
    flat = faiss.downcast_IndexBinary(index.index)
    codes = faiss.vector_to_array(flat.xb).reshape(-1, index.code_size)
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    return codes, ids
