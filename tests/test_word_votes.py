"""The compiled vote of the visual-word index against the plain NumPy rule it replaces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance import word_votes


def _numpy_votes(size, starts, ends, query_signatures, weights, signatures, postings, max_distance):
    """The rule written out: every posting of each pair's range within max_distance bits votes,
    pair by pair and posting by posting (bincount adds in that order)."""
    positions = [np.arange(a, b) for a, b in zip(starts, ends)]
    pair = np.concatenate([np.full(len(p), i) for i, p in enumerate(positions)] + [np.zeros(0, int)])
    positions = np.concatenate(positions + [np.zeros(0, int)])
    distance = np.bitwise_count(signatures[positions].astype(np.uint64)
                                ^ query_signatures[pair].astype(np.uint64))
    near = distance <= max_distance
    return np.bincount(postings[positions[near]], weights=weights[pair[near]], minlength=size)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), postings=st.sampled_from([0, 1, 50, 3 * word_votes.CHUNK + 7]),
       pairs=st.integers(0, 40), items=st.sampled_from([1, 7, 1000]), bits=st.sampled_from([32, 64]),
       max_distance=st.sampled_from([0, 4, 9, 64]), similar=st.booleans(), compiled=st.booleans())
def test_votes_follow_the_rule(seed, postings, pairs, items, bits, max_distance, similar, compiled):
    """Both ways (compiled and NumPy) give the same scores, bit for bit, as the rule written out:
    empty and repeated ranges, ranges longer than the compiled loop's chunk, 32- and 64-bit
    signatures, signatures near and far from the query's."""
    rng = np.random.default_rng(seed)
    dtype = np.uint32 if bits == 32 else np.uint64
    signatures = rng.integers(0, 2**bits, postings, dtype=np.uint64).astype(dtype)
    owners = rng.integers(0, items, postings).astype(np.uint32)
    starts = rng.integers(0, postings + 1, pairs)
    ends = np.minimum(postings, starts + rng.integers(0, postings + 1, pairs))
    query = rng.integers(0, 2**bits, pairs, dtype=np.uint64)
    if similar and postings:  # queries a few bits from one of their postings: some vote, some do not
        flips = [sum(1 << int(b) for b in rng.choice(bits, rng.integers(0, 8), replace=False)) for _ in range(pairs)]
        query = signatures[np.minimum(starts, postings - 1)].astype(np.uint64) ^ np.array(flips, dtype=np.uint64)
    weights = rng.random(pairs) * 3
    scores = np.zeros(items)
    word_votes.add_near_votes(scores, starts, ends, query, weights, signatures, owners, max_distance,
                              compiled=compiled)
    want = _numpy_votes(items, starts, ends, query, weights, signatures, owners, max_distance)
    assert np.array_equal(scores, want)
    if similar and max_distance >= 8 and np.any(ends > starts):
        assert scores.sum() > 0  # the test is not vacuous: near postings did vote


@pytest.mark.parametrize("compiled", [True, False])
def test_votes_add_to_the_scores_given(compiled):
    """Scores already there are added to, not replaced."""
    signatures = np.array([0b1011, 0b1111_0000, 0b1010], dtype=np.uint32)
    owners = np.array([2, 0, 1], dtype=np.uint32)
    scores = np.array([0.5, 0.0, 0.0])
    word_votes.add_near_votes(scores, np.array([0]), np.array([3]), np.array([0b1011], dtype=np.uint64),
                              np.array([2.0]), signatures, owners, 1, compiled=compiled)
    assert scores.tolist() == [0.5, 2.0, 2.0]  # 0b1010 is 1 bit away, 0b1111_0000 is 7
