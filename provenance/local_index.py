"""A visual-word inverted file of binary keypoint descriptors, proposing candidate items.

Every ORB descriptor is quantised to a *visual word*: the leaf of a fixed two-level vocabulary
tree of binary centroids (hierarchical k-majority, as DBoW2 builds for ORB-SLAM place
recognition), trained once on 400,000 ORB descriptors of generated scenes (the distractors of
benchmarks/edits.py; no photo of either half: benchmarks/train_local_vocabulary.py) and
shipped with the package (provenance/data/, 1.6 MB). Quantising costs K1 + K2 Hamming comparisons per descriptor.

The index keeps, per word, one posting per indexed descriptor of that word: the item's id
(uint32) and a 32-bit signature of the descriptor (Hamming embedding, Jegou et al. 2008), ~8
bytes per descriptor, ~2.3 KB per item of ~300 descriptors (16 KB per item for the exact faiss
index it replaced). The descriptors themselves stay in the ledger, from which the verification
step loads the full `LocalFeatures` of the few candidates. A query descriptor votes, with the
word's idf, for the items whose descriptors share its word AND lie within a few bits of it on
the signature (`candidates`): one pass over the postings of the query's words (word_votes.py,
compiled for large indexes), so the cost grows with the postings touched, not with the number of
items.

Postings live in sorted CSR arrays (word offsets; ids and signatures), plus an unsorted tail of
recent additions that queries match through a dense per-word lookup; the tail is merged in when it
reaches a share of the whole. Removal marks the item dead (its postings stop counting at once)
and postings of dead items are dropped at the next merge or save. Because the vocabulary never
changes, adding is always incremental: no retraining as the collection grows.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import faiss
import numpy as np

from .local_features import LocalFeatures
from .word_votes import add_near_votes

# One query is a few thousand descriptors: faiss's OpenMP threads cost far more in start-up and
# spinning than they save at that size, and on a busy 2-core machine they made each search
# 100x slower (1.3 s instead of ~10 ms, measured). Parallelism comes from scan worker processes.
faiss.omp_set_num_threads(1)

DESCRIPTOR_BITS = 256
# Vocabulary tree: K1 top-level centroids, up to K2 leaves under each (K1 * K2 words).
VOCABULARY_BRANCHING = (256, 256)
VOCABULARY_PATH = str(Path(__file__).parent / "data" / "orb-words-256x256.npz")
# Words looked up per QUERY descriptor (the nearest leaves of its cell): a true pair of
# descriptors 20-50 bits apart often falls in neighbouring leaves. Indexed descriptors get one.
# Tune half, 1,000 items, 6-bit signatures: top-12 recall 0.960 with 1 word, 0.965 with 2.
QUERY_WORDS = 2
# Top-level cells searched for those words (1: the descriptor's own cell only). Tune half, 10,000
# items, 4-bit signatures: top-12 recall 0.966 (1 cell, 2 words), 0.964 (2 cells), 0.968 (1
# cell, 3 words): no gain worth the time.
QUERY_CELLS = 1
# Hamming embedding (Jegou et al. 2008): each posting keeps SIGNATURE_BITS bits of its
# descriptor, and a query descriptor votes only for postings of its word whose signature lies
# within MAX_SIGNATURE_DISTANCE bits of its own. Two descriptors of a true pair (20-50 of 256 bits
# apart) differ in ~2-6 of 32 bits; two unrelated descriptors of one word in ~8-10. Tune half,
# 1,000 items (benchmarks/local_scale.py --recall --step 4): true original in the top 12 for
# 0.926 of the queries at 8 bits, 0.965 at 6, 0.970 at 5, 0.975 at 4 (exact voting: 0.978);
# without signatures (plain tf-idf over words) 0.92. At 10,000 items 32 bits within 4 gave
# 0.966; 64 bits (SIGNATURE_BITS = 64: 12 instead of 8 bytes per descriptor) within 7 or 9 gave
# 0.973 (exact voting 0.987).
SIGNATURE_BITS = 32
MAX_SIGNATURE_DISTANCE = 4
# Smoothing of the inverse document frequency, idf = log((N + IDF_PRIOR) / df): a small
# collection behaves like one of IDF_PRIOR more items that lack the word, so its scores are not
# all near zero (a word held by every one of 3 items is not worthless evidence).
IDF_PRIOR = 100
# Words with more postings than this share of the item count (in indexes of more than
# STOP_MIN_ITEMS items) are stop words: their long postings cost most of the query time and carry little evidence.
STOP_SHARE = 0.05
STOP_MIN_ITEMS = 1000
# Scores are reported in units of this idf (a vote through a word held by 1 in 10 items counts 1).
# Chosen so that local_match.MIN_CANDIDATE_SCORE (3) keeps the true items: in units of log(1000)
# 3.4 % of true originals in the top 12 scored below 3 (tune half, 1,000 items). In units of
# log(10), true originals in the top 12 scoring below 3: tune half 0.1 % and 0 %, report half 2.0 %
# (1,000 items), 0.9 % (10,000); exact voting's votes: 3.5 % and 4.0 %.
SCORE_UNIT = float(np.log(10.0))
# Query descriptors within this many bits of each other count as one burst (see burst_weights).
# Measured on 20 screenshot/crop queries against 660 items: weighting by burst size at 50 bits
# raised the true item's lead over the best unrelated item from 1.3-3x to 5-8x.
BURST_DISTANCE = 50
# The unsorted tail of recent postings is merged into the sorted array when it holds more than
# this many postings and more than TAIL_SHARE of all postings.
TAIL_MIN = 200_000
TAIL_SHARE = 0.02
# Items quantised per batch in add_many (bounds the memory of a bulk add).
ADD_BATCH = 2000
# Re-ranking a shortlist exactly (see `rerank`): neighbours looked up per query descriptor among
# the shortlist's descriptors; the Hamming distance beyond which a neighbour casts no vote; and how
# much farther than the nearest one a neighbour may be and still vote. The exact index these words
# replaced used the same rule over every stored descriptor (true neighbours median 22-44 bits,
# nearest unrelated neighbour median 35-51; the nearest + 6 within 48 gave the true item 4-12x
# the votes of the best unrelated one).
RERANK_NEIGHBOURS = 8
RERANK_MAX_DISTANCE = 48
RERANK_MARGIN = 6
# The neighbours are sought only among shortlisted descriptors in the RERANK_PROBES top-level
# vocabulary cells (of 256) nearest each query descriptor (None: among all of them). Tune half,
# 407 items, 4,224 queries (benchmarks/local_scale.py --recall --engines rerank,rerank16,rerank8):
# true original among the 12 verified 0.987 exhaustive, 0.987 with 16 cells, 0.988 with 8; CPU
# per query side for candidates + re-ranking, median 77 / 47 / 39 ms.
RERANK_PROBES: int | None = 8
# `candidates` finds its best items among blocks of this many item ids whose best score could
# rank: 5 ms instead of 100 ms for a full partition of 11 million ids; with fewer than k blocks
# holding a vote, only those blocks.
TOP_BLOCK = 1024
# Format of the file written by `save` (bump on change: index_store rebuilds on a mismatch).
FILE_FORMAT = 2
_MAGIC = "provenance-orb-words"


class Vocabulary:
    """A two-level tree of binary centroids; `quantize` maps descriptors to word numbers.

    The tree is held as a faiss binary IVF index whose coarse quantiser is the top level and
    whose inverted lists hold each cell's leaves (with their word numbers as ids), so one faiss
    call descends the tree for every descriptor (3x faster than a loop over cells, measured).
    """

    def __init__(self, top: np.ndarray, leaves: np.ndarray, counts: np.ndarray):
        self.top = np.ascontiguousarray(top, dtype=np.uint8)
        self.leaves = np.ascontiguousarray(leaves, dtype=np.uint8)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.branching = int(self.leaves.shape[1])
        self.size = int(self.leaves.shape[0]) * self.branching
        quantizer = faiss.IndexBinaryFlat(DESCRIPTOR_BITS)
        quantizer.add(self.top)
        self.top_quantizer = faiss.IndexBinaryFlat(DESCRIPTOR_BITS)  # the top level alone (rerank)
        self.top_quantizer.add(self.top)
        tree = faiss.IndexBinaryIVF(quantizer, DESCRIPTOR_BITS, len(self.top))
        tree.own_fields = True
        quantizer.this.disown()
        tree.is_trained = True
        for cell in range(len(self.top)):  # each cell's leaves go to the cell's list, by fiat
            n = int(self.counts[cell])
            ids = (cell * self.branching + np.arange(n)).astype(np.int64)
            leaves = np.ascontiguousarray(self.leaves[cell, :n])
            tree.invlists.add_entries(cell, n, faiss.swig_ptr(ids), faiss.swig_ptr(leaves))
        tree.ntotal = int(self.counts.sum())
        self._tree = tree
        digest = hashlib.sha256(self.top.tobytes() + self.leaves.tobytes() + self.counts.tobytes()).digest()
        self.digest = int.from_bytes(digest[:7], "little")  # stamped in saved indexes

    @classmethod
    def load(cls, path: str | os.PathLike = VOCABULARY_PATH) -> "Vocabulary":
        with np.load(path, allow_pickle=False) as data:
            return cls(data["top"], data["leaves"], data["counts"])

    def quantize(self, codes: np.ndarray, words: int = 1, cells: int = 1) -> np.ndarray:
        """(n, words) int64 word numbers of n descriptors, nearest first (-1: none).

        With cells > 1 the nearest words are sought among the leaves of that many nearest
        top-level cells (a descriptor near a cell border finds the words across it)."""
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if len(codes) == 0:
            return np.full((0, words), -1, dtype=np.int64)
        self._tree.nprobe = cells
        _, found = self._tree.search(codes, words)
        return found


_VOCABULARY: Vocabulary | None = None


def vocabulary() -> Vocabulary:
    """The shipped vocabulary (loaded once per process)."""
    global _VOCABULARY
    if _VOCABULARY is None:
        _VOCABULARY = Vocabulary.load()
    return _VOCABULARY


class LocalFeatureIndex:
    """Visual words of indexed items, answering "which items look like this?".

    `candidates()` returns item ids ranked by idf-weighted votes of query descriptors that share
    a word with an item's descriptor and agree with it on the SIGNATURE_BITS signature bits;
    those are only candidates, to be confirmed by `local_match.verify`. Item ids are ledger row
    ids: below 2**32, and dense (per-item state is an array indexed by id, 5 bytes per id up to
    the largest).
    """

    def __init__(self, vocab: Vocabulary | None = None) -> None:
        self._vocab = vocab if vocab is not None else vocabulary()
        size = self._vocab.size
        self._offsets = np.zeros(size + 1, dtype=np.int64)  # CSR over words
        self._postings = np.zeros(0, dtype=np.uint32)  # item ids, grouped by word
        self._signatures = np.zeros(0, dtype=_signature_dtype())  # descriptor signatures, alongside
        self._tail: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # recent (words, items, signatures)
        self._tail_size = 0
        self._df = np.zeros(size, dtype=np.int64)  # postings of live items per word
        self._held = np.full(0, -1, dtype=np.int32)  # by item id: postings held, -1 = absent
        self._dead = np.zeros(0, dtype=bool)  # by item id: removed, postings not yet dropped
        self._count = 0
        self._dead_count = 0

    # --- size and membership -------------------------------------------------------------
    def __len__(self) -> int:
        return self._count

    def __contains__(self, item_id: int) -> bool:
        item_id = int(item_id)
        return 0 <= item_id < len(self._held) and self._held[item_id] >= 0

    @property
    def posting_count(self) -> int:
        """Postings stored (one per descriptor; dead items' included until merged)."""
        return int(len(self._postings) + self._tail_size)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held (postings, signatures, offsets, per-word and per-id tables)."""
        tail = sum(a.nbytes for part in self._tail for a in part)
        return int(self._postings.nbytes + self._signatures.nbytes + self._offsets.nbytes + self._df.nbytes
                   + self._held.nbytes + self._dead.nbytes + tail)

    # --- changes ---------------------------------------------------------------------------
    def add(self, item_id: int, features: LocalFeatures) -> None:
        """Index an item's descriptors, replacing any previous ones of that id."""
        self.add_many([(item_id, features)])

    def add_many(self, items: Iterable[tuple[int, LocalFeatures]]) -> None:
        """Index many items (replacing earlier ones of the same ids)."""
        batch: list[tuple[int, np.ndarray]] = []
        for item_id, features in items:
            batch.append((int(item_id), features.descriptors))
            if len(batch) >= ADD_BATCH:
                self._add_batch(batch)
                batch = []
        if batch:
            self._add_batch(batch)

    def add_words(self, item_ids: np.ndarray, words: np.ndarray, signatures: np.ndarray,
                  sizes: np.ndarray) -> None:
        """Index items given their descriptors' words and signatures (`sizes[i]` descriptors of
        item `item_ids[i]`, in order; a word of -1 is skipped).

        What `add_many` does after quantising; also used by benchmarks to build large indexes.
        """
        item_ids = np.asarray(item_ids, dtype=np.int64)
        sizes = np.asarray(sizes, dtype=np.int64)
        if len(item_ids) == 0:
            return
        if item_ids.min() < 0 or item_ids.max() >= 2**32 - 1:
            raise ValueError("item ids must be in [0, 2**32 - 1)")
        owners = np.repeat(item_ids, sizes)
        if len(np.unique(item_ids)) != len(item_ids):  # the last entry of an id wins
            last = {int(i): n for n, i in enumerate(item_ids.tolist())}
            entry = np.repeat(np.arange(len(item_ids)), sizes)
            chosen = np.isin(entry, np.array(sorted(last.values())))
            owners, words, signatures = owners[chosen], np.asarray(words)[chosen], np.asarray(signatures)[chosen]
            item_ids = np.array(sorted(last), dtype=np.int64)
        self._grow(int(item_ids.max()) + 1)
        replaced = (self._held[item_ids] >= 0) | self._dead[item_ids]
        if replaced.any():
            for item_id in item_ids[replaced].tolist():
                self.remove(item_id)
            self._merge()  # drops the replaced items' postings before the new ones arrive
        words = np.asarray(words, dtype=np.int64)
        valid = words >= 0
        words, owners = words[valid], owners[valid].astype(np.uint32)
        signatures = np.asarray(signatures, dtype=self._signatures.dtype)[valid]
        self._held[item_ids] = 0
        held, counts = np.unique(owners, return_counts=True)
        self._held[held.astype(np.int64)] = counts
        self._count += len(item_ids)
        self._df += np.bincount(words, minlength=self._vocab.size)
        self._tail.append((words.astype(np.uint32), owners, signatures))
        self._tail_size += len(words)
        if self._tail_size > max(TAIL_MIN, TAIL_SHARE * len(self._postings)):
            self._merge()

    def remove(self, item_id: int) -> bool:
        """Drop an item; returns whether it was there.

        Its postings stop counting at once and leave memory at the next merge or save; finding
        its words (to keep the idf exact) scans the postings once, ~0.1-0.3 s at a million items:
        fine for occasional removals, not for bulk churn (rebuild from scratch instead).
        """
        item_id = int(item_id)
        if item_id not in self:
            return False
        found = np.flatnonzero(self._postings == item_id)
        self._df -= np.bincount(np.searchsorted(self._offsets, found, side="right") - 1,
                                minlength=self._vocab.size)
        for words, items, _ in self._tail:
            self._df -= np.bincount(words[items == item_id], minlength=self._vocab.size)
        self._held[item_id] = -1
        self._dead[item_id] = True
        self._dead_count += 1
        self._count -= 1
        return True

    def _add_batch(self, batch: list[tuple[int, np.ndarray]]) -> None:
        sizes = np.array([len(codes) for _, codes in batch], dtype=np.int64)
        codes = (np.concatenate([np.ascontiguousarray(c, dtype=np.uint8).reshape(-1, 32) for _, c in batch])
                 if sizes.sum() else np.zeros((0, 32), dtype=np.uint8))
        words = self._vocab.quantize(codes, 1)[:, 0]
        self.add_words(np.array([i for i, _ in batch], dtype=np.int64), words, signature(codes), sizes)

    def _grow(self, size: int) -> None:
        if size <= len(self._held):
            return
        new = max(size, int(len(self._held) * 1.5) + 1024)
        self._held = np.concatenate([self._held, np.full(new - len(self._held), -1, dtype=np.int32)])
        self._dead = np.concatenate([self._dead, np.zeros(new - len(self._dead), dtype=bool)])

    def _merge(self) -> None:
        """Fold the tail into the sorted postings and drop dead items' postings (one pass)."""
        if not self._tail_size and not self._dead_count:
            return
        size = self._vocab.size
        if self._tail:
            tail_words, tail_items, tail_sigs = (np.concatenate(parts) for parts in zip(*self._tail))
        else:
            tail_words, tail_items = (np.zeros(0, np.uint32) for _ in range(2))
            tail_sigs = np.zeros(0, self._signatures.dtype)
        old, old_sigs, off = self._postings, self._signatures, self._offsets.tolist()
        dead = self._dead
        if self._dead_count:  # dead items' postings are dropped (remove() already fixed _df)
            alive = ~dead[tail_items]
            tail_words, tail_items, tail_sigs = tail_words[alive], tail_items[alive], tail_sigs[alive]
            base_counts = np.array([np.count_nonzero(~dead[old[off[w]:off[w + 1]]]) for w in range(size)],
                                   dtype=np.int64)
        else:
            base_counts = np.diff(self._offsets)
        sort_key = tail_words.astype(np.uint16) if size <= 2**16 else tail_words  # 16 bits: radix sort
        order = np.argsort(sort_key, kind="stable")
        tail_words, tail_items, tail_sigs = tail_words[order], tail_items[order], tail_sigs[order]
        tail_offsets = np.r_[0, np.cumsum(np.bincount(tail_words, minlength=size))]
        new_offsets = np.r_[0, np.cumsum(base_counts + np.diff(tail_offsets))].astype(np.int64)
        merged = np.empty(int(new_offsets[-1]), dtype=np.uint32)
        merged_sigs = np.empty(int(new_offsets[-1]), dtype=self._signatures.dtype)
        toff, new = tail_offsets.tolist(), new_offsets.tolist()
        for w in range(size):  # slice copies per word: no index array as long as the postings
            segment, sigs = old[off[w]:off[w + 1]], old_sigs[off[w]:off[w + 1]]
            if self._dead_count:
                live = ~dead[segment]
                segment, sigs = segment[live], sigs[live]
            split = new[w] + len(segment)
            merged[new[w]:split] = segment
            merged_sigs[new[w]:split] = sigs
            merged[split:new[w + 1]] = tail_items[toff[w]:toff[w + 1]]
            merged_sigs[split:new[w + 1]] = tail_sigs[toff[w]:toff[w + 1]]
        if self._dead_count:
            self._dead[:] = False
            self._dead_count = 0
        self._postings, self._signatures, self._offsets = merged, merged_sigs, new_offsets
        self._tail, self._tail_size = [], 0

    # --- queries ---------------------------------------------------------------------------
    def candidates(self, query: LocalFeatures, k: int = 20) -> list[tuple[int, float]]:
        """Up to k (item_id, score) pairs, best first.

        Each query descriptor is quantised to its QUERY_WORDS nearest words. Every stored
        descriptor of such a word whose signature lies within MAX_SIGNATURE_DISTANCE bits of the
        query descriptor's votes for its item, with the word's idf (stop words, held by more
        than STOP_SHARE of the postings' items, are skipped), times the query descriptor's
        burst weight (see `burst_weights`: the text of a screenshot repeats the same glyph
        corners and would otherwise vote for every item that contains text). Scores are in
        units of SCORE_UNIT.
        """
        if len(query) == 0 or self._count == 0:
            return []
        codes = np.ascontiguousarray(query.descriptors, dtype=np.uint8)
        words = self._vocab.quantize(codes, QUERY_WORDS, QUERY_CELLS)
        n_words = words.shape[1]
        rows = np.repeat(np.arange(len(codes)), n_words)
        words = words.ravel()
        df = self._df[np.maximum(words, 0)]
        keep = (words >= 0) & (df > 0)
        if self._count > STOP_MIN_ITEMS:
            keep &= df <= STOP_SHARE * self._count
        rows, words, df = rows[keep], words[keep], df[keep]
        if len(words) == 0:
            return []
        weight = _burst_weights_of(query)[rows] * np.log((self._count + IDF_PRIOR) / df)
        query_sigs = signature(codes)[rows]
        starts, ends = self._offsets[words], self._offsets[words + 1]
        scores = np.zeros(len(self._held))
        add_near_votes(scores, starts, ends, query_sigs, weight, self._signatures, self._postings,
                       MAX_SIGNATURE_DISTANCE)
        if self._tail_size:  # recent postings: match each query (word, descriptor) pair directly
            tail_words, tail_items, tail_sigs = (np.concatenate(parts) for parts in zip(*self._tail))
            order = np.argsort(words, kind="stable")
            sorted_words = words[order]
            first = np.flatnonzero(np.r_[True, sorted_words[1:] != sorted_words[:-1]])
            dense_lo = np.zeros(self._vocab.size, dtype=np.int64)
            dense_count = np.zeros(self._vocab.size, dtype=np.int64)
            dense_lo[sorted_words[first]] = first
            dense_count[sorted_words[first]] = np.diff(np.r_[first, len(sorted_words)])
            hit = np.flatnonzero(dense_count[tail_words])
            if len(hit):
                lo, counts = dense_lo[tail_words[hit]], dense_count[tail_words[hit]]
                which = np.repeat(hit, counts)
                within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
                pair = order[np.repeat(lo, counts) + within]
                near = np.bitwise_count(tail_sigs[which] ^ query_sigs[pair]) <= MAX_SIGNATURE_DISTANCE
                scores += np.bincount(tail_items[which[near]], weights=weight[pair[near]], minlength=len(scores))
        if self._dead_count:
            scores[self._dead[:len(scores)]] = 0.0
        top = _top_positive(scores, k)
        return [(int(i), round(float(scores[i]) / SCORE_UNIT, 3)) for i in top]

    # --- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the postings and tables to one file of raw .npy arrays (no pickle, no zip)."""
        self._merge()
        present = np.flatnonzero(self._held >= 0)
        header = np.array([FILE_FORMAT, self._vocab.digest, self._count], dtype=np.int64)
        with open(path, "wb") as handle:
            np.save(handle, np.array([_MAGIC]))
            for array in (header, self._offsets, self._postings, self._signatures, self._df,
                          present.astype(np.uint32), self._held[present]):
                np.save(handle, array, allow_pickle=False)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LocalFeatureIndex":
        """Read an index written by `save`; ValueError if the file is of another format (such as
        the faiss index of earlier versions) or was built with another vocabulary."""
        index = cls()
        with open(path, "rb") as handle:
            try:
                magic = _read_array(handle)
                if magic.shape != (1,) or str(magic[0]) != _MAGIC:
                    raise ValueError(f"{path}: not a visual-word index")
                header = _read_array(handle)
                if int(header[0]) != FILE_FORMAT or int(header[1]) != index._vocab.digest:
                    raise ValueError(f"{path}: format {header[0]}, vocabulary {header[1]:x}; expected "
                                     f"{FILE_FORMAT}, {index._vocab.digest:x}")
                offsets, postings, signatures, df, present, counts = (_read_array(handle) for _ in range(6))
            except (EOFError, OSError, IndexError) as error:
                raise ValueError(f"{path}: unreadable index ({error})") from error
        if signatures.dtype != index._signatures.dtype:
            raise ValueError(f"{path}: {signatures.dtype.itemsize * 8}-bit signatures; expected {SIGNATURE_BITS}")
        index._offsets, index._postings, index._signatures, index._df = offsets, postings, signatures, df
        present = present.astype(np.int64)
        index._grow(int(present.max()) + 1 if len(present) else 0)
        index._held[present] = counts
        index._count = int(header[2])
        return index


def signature(codes: np.ndarray) -> np.ndarray:
    """SIGNATURE_BITS bits of each descriptor (its first bytes: ORB orders its tests by how
    uncorrelated they are), compared within a word to tell near descriptors from far ones."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    dtype = _signature_dtype()
    if not len(codes):
        return np.zeros(0, dtype)
    return np.ascontiguousarray(codes[:, :dtype.itemsize]).view(dtype).ravel().copy()


def _signature_dtype() -> np.dtype:
    return np.dtype({32: "<u4", 64: "<u8"}[SIGNATURE_BITS])


def _read_array(handle) -> np.ndarray:
    """The next .npy array of an open file; ValueError if it holds something else."""
    array = np.load(handle, allow_pickle=False)
    if not isinstance(array, np.ndarray):
        raise ValueError("not a .npy array")
    return array


def rerank(query: LocalFeatures, shortlist: dict[int, LocalFeatures], k: int,
           probes: int | None = RERANK_PROBES) -> list[tuple[int, float]]:
    """Up to k (item_id, score) pairs of the shortlist, best first, by exact descriptor votes.

    The visual words lose true neighbours that fall in another word; comparing the query's
    descriptors with the descriptors of the few dozen candidates the words proposed wins most of
    them back (benchmarks/local_scale.py). Each query descriptor votes, with its burst weight,
    for each item holding one of its nearest descriptors within RERANK_MAX_DISTANCE bits and
    RERANK_MARGIN bits of the nearest; one vote per (descriptor, item). `probes` top-level cells
    of the vocabulary are searched per query descriptor (None: every shortlisted descriptor).
    """
    ids = [i for i, f in shortlist.items() if len(f)]
    if len(query) == 0 or not ids:
        return []
    stored = np.concatenate([np.ascontiguousarray(shortlist[i].descriptors, dtype=np.uint8) for i in ids])
    owner = np.repeat(np.asarray(ids, dtype=np.int64), [len(shortlist[i]) for i in ids])
    codes = np.ascontiguousarray(query.descriptors, dtype=np.uint8)
    cells = None if probes is None else np.concatenate([_top_cells(shortlist[i]) for i in ids])
    distances, positions = _shortlist_index(stored, cells, probes).search(
        codes, min(RERANK_NEIGHBOURS, len(stored)))
    limit = np.minimum(distances[:, :1] + RERANK_MARGIN, RERANK_MAX_DISTANCE)
    near = (distances <= limit) & (positions >= 0)
    rows = np.repeat(np.arange(len(codes)), positions.shape[1]).reshape(positions.shape)[near]
    pairs = np.unique(np.stack([rows, owner[positions[near]]], axis=1), axis=0)
    if len(pairs) == 0:
        return []
    items, inverse = np.unique(pairs[:, 1], return_inverse=True)
    scores = np.bincount(inverse, weights=_burst_weights_of(query)[pairs[:, 0]])
    order = np.lexsort((items, -scores))[:k]
    return [(int(items[i]), round(float(scores[i]), 3)) for i in order]


def _shortlist_index(stored: np.ndarray, cells: np.ndarray | None, probes: int | None):
    """A faiss index over the shortlist's descriptors: exhaustive, or cell-probing (`cells`: the
    top-level cell of each stored descriptor)."""
    if probes is None:
        flat = faiss.IndexBinaryFlat(DESCRIPTOR_BITS)
        flat.add(stored)
        return flat
    vocab = vocabulary()
    index = faiss.IndexBinaryIVF(vocab.top_quantizer, DESCRIPTOR_BITS, len(vocab.top))
    index.is_trained = True
    ids = np.arange(len(stored), dtype=np.int64)
    cells = np.ascontiguousarray(cells, dtype=np.int64)
    if stored.shape != (len(cells), DESCRIPTOR_BITS // 8):
        raise ValueError("one cell per stored descriptor is needed")
    index.add_core(len(stored), faiss.swig_ptr(stored), faiss.swig_ptr(ids), faiss.swig_ptr(cells))
    index.nprobe = probes
    return index


def _top_cells(features: LocalFeatures) -> np.ndarray:
    """The top-level vocabulary cell of each of an item's descriptors, kept on the features: their
    assignment, not the search, was most of a rerank's cost when made again for every look."""
    if features.cells is None or len(features.cells) != len(features):
        codes = np.ascontiguousarray(features.descriptors, dtype=np.uint8)
        _, nearest = vocabulary().top_quantizer.search(codes, 1)
        features.cells = nearest.ravel().astype(np.int64)
    return features.cells


def _burst_weights_of(features: LocalFeatures) -> np.ndarray:
    """`burst_weights` of an item's descriptors, kept on the features: a look's candidates and its
    re-rank weigh the same descriptors, and that range search was a tenth of a check's time."""
    if features.bursts is None or len(features.bursts) != len(features):
        features.bursts = burst_weights(np.ascontiguousarray(features.descriptors, dtype=np.uint8))
    return features.bursts


def _top_positive(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest positive scores, highest first; ties go to the lower index.

    Only blocks of TOP_BLOCK scores whose maximum reaches the k-th highest block maximum can
    hold one of the k best (at least k scores are that high), so only those are partitioned; when
    fewer than k blocks hold a positive score, only those blocks.
    """
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.arange(len(scores))
    if len(scores) > 4 * k * TOP_BLOCK:
        whole = len(scores) - len(scores) % TOP_BLOCK
        maxima = scores[:whole].reshape(-1, TOP_BLOCK).max(axis=1)
        kth = np.partition(maxima, len(maxima) - k)[len(maxima) - k]
        blocks = np.flatnonzero(maxima >= kth) if kth > 0 else np.flatnonzero(maxima > 0)
        candidates = np.r_[(blocks[:, None] * TOP_BLOCK + np.arange(TOP_BLOCK)).ravel(),
                           np.arange(whole, len(scores))]
    candidates = candidates[scores[candidates] > 0]
    values = scores[candidates]
    if len(values) > k:  # every score above the k-th, then the lowest indices tied with it
        kth = np.partition(values, len(values) - k)[len(values) - k]
        above = candidates[values > kth]
        candidates = np.r_[above, candidates[values == kth][:k - len(above)]]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order]


def burst_weights(codes: np.ndarray) -> np.ndarray:
    """1 / (1 + number of OTHER descriptors of the same image within BURST_DISTANCE).

    Repeated structure (glyphs of text, buttons, fences, tiles) yields many
    near-identical descriptors within one image; each copy matches the same
    things, so together they should count about as much as one.
    """
    index = faiss.IndexBinaryFlat(codes.shape[1] * 8)
    index.add(codes)
    limits, _, _ = index.range_search(codes, BURST_DISTANCE + 1)  # range is exclusive
    return 1.0 / np.diff(limits).astype(np.float64)
