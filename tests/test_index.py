import random

from hypothesis import given, settings, strategies as st

from provenance.fingerprints.base import hamming_hex
from provenance.index import HashIndex


def _rand_hex(rng, bits):
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def test_finds_items_within_distance_best_first():
    idx = HashIndex(64)
    idx.add(1, "0" * 16)
    idx.add(2, "f" * 16)
    idx.add(3, "0" * 15 + "3")
    hits = idx.search(["0" * 16], 4)
    assert [(h.item_id, h.distance) for h in hits] == [(1, 0), (3, 2)]


def test_best_variant_is_reported():
    idx = HashIndex(64)
    idx.add(7, "f" * 16)
    (hit,) = idx.search(["0" * 16, "f" * 16], 0)
    assert hit.variant == 1


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 60), st.integers(0, 128))
def test_agrees_with_brute_force_reference(seed, n, radius):
    rng = random.Random(seed)
    idx = HashIndex(256)
    values = [_rand_hex(rng, 256) for _ in range(n)]
    for i, v in enumerate(values):
        idx.add(i, v)
    q = [_rand_hex(rng, 256), values[0]]
    got = {h.item_id: h.distance for h in idx.search(q, radius)}
    want = {i: min(hamming_hex(v, x) for x in q) for i, v in enumerate(values)}
    assert got == {i: d for i, d in want.items() if d <= radius}
