"""The visual-word index of local features: ranking, removal, persistence, incremental merges."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from provenance import local_index, word_votes
from provenance.local_features import extract
from provenance.local_index import LocalFeatureIndex

from .conftest import photo

PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "rocket", "hubble_deep_field", "immunohistochemistry")


def _screenshot(picture: Image.Image) -> Image.Image:
    """The picture at 60 % of a 720 x 1500 phone screen between lines of post text and buttons."""
    canvas = Image.new("RGB", (720, 1500), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=30)
    for row in range(6):
        draw.text((30, 40 + row * 48), f"Breaking news line {row}: officials confirm report", fill=(20, 20, 20),
                  font=font)
    width = 660
    shown = picture.resize((width, int(picture.height * width / picture.width)))
    canvas.paste(shown, (30, 340))
    for x in range(4):
        draw.rounded_rectangle((40 + x * 170, 1400, 160 + x * 170, 1450), radius=12, outline=(90, 90, 90), width=3)
    return canvas


def _noise_scene(seed: int) -> Image.Image:
    """A textured unrelated picture (random rectangles and text)."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (640, 480), tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.integers(0, 600), rng.integers(0, 440)
        draw.rectangle((x, y, x + rng.integers(5, 80), y + rng.integers(5, 80)),
                       fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw.text((20, 20), f"scene {seed}", fill="white", font=ImageFont.load_default(size=40))
    return image


@pytest.fixture(scope="module")
def features():
    feats = {i: extract(photo(name)) for i, name in enumerate(PHOTOS)}
    for n in range(12):
        feats[100 + n] = extract(_noise_scene(n))
    return feats


@pytest.fixture()
def index(features):
    index = LocalFeatureIndex()
    index.add_many(features.items())
    return index


def _rank_first(index, image: Image.Image, item: int) -> None:
    found = index.candidates(extract(image, for_query=True), k=5)
    assert found and found[0][0] == item, found


def test_crops_and_screenshots_rank_their_original_first(index):
    coffee, rocket, astronaut = photo("coffee"), photo("rocket"), photo("astronaut")
    w, h = coffee.size
    _rank_first(index, coffee.crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4)), 1)  # 25 % of the area
    _rank_first(index, rocket.crop((0, rocket.height // 3, rocket.width * 2 // 3, rocket.height)), 4)
    _rank_first(index, _screenshot(astronaut), 0)
    _rank_first(index, _screenshot(coffee.resize((w // 2, h // 2))), 1)


def test_scores_are_in_candidate_units(index):
    """A true match scores far above local_match.MIN_CANDIDATE_SCORE; the rest far less."""
    from provenance.local_match import MIN_CANDIDATE_SCORE

    found = index.candidates(extract(_screenshot(photo("chelsea")), for_query=True), k=5)
    assert found[0][0] == 2 and found[0][1] >= 3 * MIN_CANDIDATE_SCORE
    assert found[1][1] < found[0][1] / 2


def test_compiled_votes_rank_alike(index, monkeypatch):
    """Candidates are the same, scores included, whether the vote runs compiled (as for a large
    index, word_votes.COMPILED_FROM) or in NumPy."""
    queries = [extract(_screenshot(photo(name)), for_query=True) for name in ("chelsea", "rocket")]
    by_numpy = [index.candidates(q, k=7) for q in queries]
    monkeypatch.setattr(word_votes, "COMPILED_FROM", 0)
    assert [index.candidates(q, k=7) for q in queries] == by_numpy
    assert by_numpy[0][0][0] == 2 and by_numpy[1][0][0] == 4


def test_remove_and_add_again(index, features):
    query = extract(photo("camera").crop((50, 50, 400, 400)), for_query=True)
    assert index.candidates(query, 1)[0][0] == 3
    count = len(index)
    assert index.remove(3) and not index.remove(3) and not index.remove(999)
    assert 3 not in index and len(index) == count - 1
    assert all(item != 3 for item, _ in index.candidates(query, 20))
    index.add(3, features[3])
    assert 3 in index and len(index) == count
    assert index.candidates(query, 1)[0][0] == 3
    index.add(3, features[3])  # replacing an item keeps one copy of its postings
    assert len(index) == count
    again = LocalFeatureIndex()
    again.add_many(features.items())
    assert index.candidates(query, 10) == again.candidates(query, 10)


def test_save_load_round_trip(index, features, tmp_path):
    query = extract(_screenshot(photo("hubble_deep_field")), for_query=True)
    index.remove(100)
    before = index.candidates(query, 10)
    path = tmp_path / "orb.words"
    index.save(path)
    loaded = LocalFeatureIndex.load(path)
    assert len(loaded) == len(index) and 100 not in loaded and 5 in loaded
    assert loaded.candidates(query, 10) == before
    assert loaded.posting_count == index.posting_count
    loaded.add(100, features[100])  # incremental add after a load
    assert 100 in loaded and len(loaded) == len(index) + 1


@pytest.mark.parametrize("content", [b"", b"garbage", b"\x93NUMPY\x01\x00"])
def test_load_rejects_other_files(tmp_path, content):
    path = tmp_path / "old.faiss"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        LocalFeatureIndex.load(path)


def test_old_faiss_index_file_is_rebuilt(tmp_path):
    """An index file of the old format (faiss npz) is not misread: load raises ValueError."""
    path = tmp_path / "old.npz"
    np.savez(path, faiss=np.zeros(10, np.uint8), items=np.zeros((0, 2), np.int64))
    with pytest.raises(ValueError):
        LocalFeatureIndex.load(path)


class _Codes:
    def __init__(self, descriptors):
        self.descriptors = descriptors
        self.bursts = None

    def __len__(self):
        return len(self.descriptors)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 15)), min_size=1, max_size=40),
       tail_min=st.sampled_from([0, 50, 10**9]), seed=st.integers(0, 1000))
def test_incremental_changes_equal_a_fresh_build(monkeypatch, ops, tail_min, seed):
    """Any sequence of adds, replacements and removals (merged early, late or never) answers
    exactly as an index built from scratch of the items left."""
    monkeypatch.setattr(local_index, "TAIL_MIN", tail_min)
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (40, 32), dtype=np.uint8)  # shared corners make items overlap

    def item_codes(item: int, version: int) -> np.ndarray:
        r = np.random.default_rng(item * 1000 + version)
        own = r.integers(0, 256, (int(r.integers(0, 30)), 32), dtype=np.uint8)
        return np.concatenate([base[r.integers(0, len(base), 10)], own])

    index, state = LocalFeatureIndex(), {}
    for step, (op, item) in enumerate(ops):
        if op == "add":
            state[item] = item_codes(item, step)
            index.add(item, _Codes(state[item]))
        else:
            assert index.remove(item) == (state.pop(item, None) is not None)
    fresh = LocalFeatureIndex()
    fresh.add_many((i, _Codes(c)) for i, c in sorted(state.items()))
    assert len(index) == len(fresh) == len(state)
    assert all(i in index for i in state)
    for item, codes in state.items():
        query = _Codes(np.concatenate([codes, base[:5]]))
        got, want = dict(index.candidates(query, 100)), dict(fresh.candidates(query, 100))
        assert got.keys() == want.keys() and item in got  # every item fits in k=100
        assert all(abs(got[i] - want[i]) <= 0.002 for i in got)  # summed in another order
    index._merge()
    assert index.posting_count == fresh.posting_count
    assert np.array_equal(index._df, fresh._df)


@pytest.mark.parametrize("probes", [None, local_index.RERANK_PROBES])
@pytest.mark.parametrize("name", ["coffee", "rocket", "camera"])
def test_rerank_puts_the_shown_picture_first(features, name, probes):
    """Exact votes over a shortlist, among all its descriptors or the nearest cells': the
    screenshot's picture leads, by far more votes."""
    truth = PHOTOS.index(name)
    query = extract(_screenshot(photo(name)), for_query=True)
    ranked = local_index.rerank(query, features, k=5, probes=probes)
    assert ranked[0][0] == truth
    assert len(ranked) == 1 or ranked[0][1] > 3 * ranked[1][1]


def test_probing_cells_keeps_most_votes(features):
    """Probing the nearest top-level cells finds nearly the neighbours the exhaustive search finds:
    the shown picture keeps most of its votes (one is lost when its neighbour lies in a farther
    cell; one may be gained when a nearer neighbour is missed and the margin widens)."""
    query = extract(_screenshot(photo("rocket")), for_query=True)
    exact = dict(local_index.rerank(query, features, k=len(features), probes=None))
    for probes, share in ((4, 0.7), (local_index.RERANK_PROBES, 0.9)):
        probed = dict(local_index.rerank(query, features, k=len(features), probes=probes))
        truth = PHOTOS.index("rocket")
        assert share * exact[truth] <= probed[truth] <= exact[truth] * 1.05


def test_rerank_of_nothing(features):
    query = extract(photo("coffee"), for_query=True)
    assert local_index.rerank(query, {}, k=5) == []
    assert [i for i, _ in local_index.rerank(query, {7: features[1], 8: features[2]}, k=1)] == [7]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.sampled_from([0, 5, 3000, 300_000]), k=st.integers(0, 60),
       levels=st.sampled_from([3, 50, 10**6]), share=st.sampled_from([0.0001, 0.01, 0.5]))
def test_top_positive_equals_a_full_sort(seed, size, k, levels, share):
    """The block-wise top k (what `candidates` ranks by) is exactly the first k positive scores of
    a full sort by (score descending, index ascending), ties and sparse scores included."""
    rng = np.random.default_rng(seed)
    scores = np.where(rng.random(size) < share, rng.integers(0, levels, size) / 7.0, 0.0)
    order = np.lexsort((np.arange(size), -scores))
    want = [int(i) for i in order if scores[i] > 0][:k]
    assert local_index._top_positive(scores, k).tolist() == want


def test_rerank_remembers_each_items_cells():
    """The top-level cell of each stored descriptor is assigned once and kept on the features, and
    the votes are those of a shortlist index that faiss assigns itself."""
    query = extract(_screenshot(photo("coffee")), for_query=True)
    fresh = {i: extract(photo(name)) for i, name in enumerate(PHOTOS)}
    first = local_index.rerank(query, fresh, k=len(fresh))
    for f in fresh.values():
        assert f.cells is not None and len(f.cells) == len(f)
        _, nearest = local_index.vocabulary().top_quantizer.search(f.descriptors, 1)
        assert np.array_equal(f.cells, nearest.ravel())
    assert local_index.rerank(query, fresh, k=len(fresh)) == first  # from the kept cells
    stored = np.concatenate([fresh[i].descriptors for i in fresh])
    cells = np.concatenate([fresh[i].cells for i in fresh])
    vocab = local_index.vocabulary()
    reference = faiss.IndexBinaryIVF(vocab.top_quantizer, local_index.DESCRIPTOR_BITS, len(vocab.top))
    reference.is_trained = True
    reference.add(stored)
    probes = local_index.RERANK_PROBES
    reference.nprobe = probes
    mine = local_index._shortlist_index(stored, cells, probes)
    for a, b in zip(mine.search(query.descriptors, 8), reference.search(query.descriptors, 8)):
        assert np.array_equal(a, b)
    fresh[0].cells = fresh[0].cells[:5]  # cells of other descriptors: assigned again
    assert local_index.rerank(query, fresh, k=len(fresh)) == first
    with pytest.raises(ValueError):
        local_index._shortlist_index(stored, cells[:-1], probes)


def test_a_looks_burst_weights_are_computed_once(index):
    """The words' vote and the re-rank weigh a look's descriptors by the same burst weights,
    kept on its features: the same candidates and votes as weights computed afresh."""
    query = extract(_screenshot(photo("rocket")), for_query=True)
    assert query.bursts is None
    ranked = index.candidates(query, k=5)
    assert np.array_equal(query.bursts, local_index.burst_weights(query.descriptors))
    query.bursts = query.bursts[:3]  # weights of other descriptors: computed again
    assert index.candidates(query, k=5) == ranked
    assert len(query.bursts) == len(query)
