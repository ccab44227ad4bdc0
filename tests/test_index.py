import random
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from provenance import index
from provenance.fingerprints.base import hamming_hex
from provenance.index import MERGE_AFTER, BruteForceHashIndex, HashIndex


def _rand_hex(rng, bits):
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _flip(rng, hex_value, n):
    bits = len(hex_value) * 4
    v = int(hex_value, 16)
    for p in rng.sample(range(bits), n):
        v ^= 1 << p
    return f"{v:0{bits // 4}x}"


@pytest.mark.parametrize("cls", [HashIndex, BruteForceHashIndex])
def test_finds_items_within_distance_best_first(cls):
    idx = cls(64)
    idx.add(1, "0" * 16)
    idx.add(2, "f" * 16)
    idx.add(3, "0" * 15 + "3")
    hits = idx.search(["0" * 16], 4)
    assert [(h.item_id, h.distance) for h in hits] == [(1, 0), (3, 2)]
    (hit,) = idx.search(["1" * 16, "f" * 16], 0)
    assert (hit.item_id, hit.variant) == (2, 1)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 300), st.sampled_from([(256, 24), (256, 31), (256, 47), (256, 80), (64, 8), (64, 12), (64, 20)]),
       st.booleans())
def test_multi_index_hashing_agrees_with_brute_force(seed, n, shape, wordwise):
    """Multi-index hashing, and the scan it turns to beyond SCAN_BEYOND_SHARE of the bits, find
    exactly what the brute-force reference finds, whether rows are measured whole or in blocks
    (index.WORDWISE_BLOCK; here of 7 rows, so that the last block of most indexes is partial)."""
    with patch.object(index, "WORDWISE_BLOCK", 7 if wordwise else index.WORDWISE_BLOCK):
        _agrees_with_brute_force(seed, n, shape)


def _agrees_with_brute_force(seed, n, shape):
    bits, radius = shape
    rng = random.Random(seed)
    fast, slow = HashIndex(bits), BruteForceHashIndex(bits)
    values = [_rand_hex(rng, bits) for _ in range(n)]
    # plant near neighbours of the first value, at distances around the radius
    values += [_flip(rng, values[0], rng.randint(0, radius + 3)) for _ in range(20)]
    for i, v in enumerate(values):
        fast.add(i, v)
        slow.add(i, v)
    # several query variants (as PDQ's 8 dihedral ones): a row's substring hits add up across them
    queries = [values[0], _rand_hex(rng, bits), _flip(rng, values[0], radius), _rand_hex(rng, bits)]
    got = fast.search(queries, radius)
    assert got == slow.search(queries, radius)
    want = {i: min(hamming_hex(v, q) for q in queries) for i, v in enumerate(values)}
    assert {h.item_id: h.distance for h in got} == {i: d for i, d in want.items() if d <= radius}


def test_merging_and_save_load_round_trip(tmp_path):
    rng = random.Random(5)
    idx = HashIndex(256)
    values = [_rand_hex(rng, 256) for _ in range(MERGE_AFTER + 50)]  # forces one merge
    for i, v in enumerate(values):
        idx.add(i, v)
    idx.save(tmp_path / "pdq.npz")
    loaded = HashIndex.load(tmp_path / "pdq.npz")
    assert len(loaded) == len(values)
    q = _flip(rng, values[4000], 20)
    assert [h.item_id for h in loaded.search([q], 31)] == [4000]
    loaded.add(99999, q)
    assert {h.item_id for h in loaded.search([q], 31)} == {4000, 99999}


def test_bulk_add_matches_single_adds():
    rng = random.Random(9)
    values = [_rand_hex(rng, 256) for _ in range(100)]
    a, b = HashIndex(256), HashIndex(256)
    for i, v in enumerate(values):
        a.add(i, v)
    b.add_many(np.arange(100), np.stack([np.frombuffer(bytes.fromhex(v), np.uint8) for v in values]))
    q = [_flip(rng, values[7], 10)]
    assert a.search(q, 31) == b.search(q, 31)
