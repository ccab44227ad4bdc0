"""prints.py: what a worker computes from one file, and that it survives the trip to the writer."""

import pickle

import numpy as np

from provenance import local_features
from provenance.prints import QueryFeatures, fingerprint_file

from .conftest import photo, save


def test_query_features_are_what_matching_would_extract(tmp_path):
    path = save(photo("astronaut"), tmp_path / "a.jpg")
    outcome = pickle.loads(pickle.dumps(fingerprint_file(str(path))))  # as from a worker process
    prints = outcome.prints
    assert prints.query is not None
    image = prints.decoded.image
    query, mirrored = prints.query.unpack(image)
    want = local_features.extract(image, for_query=True, keep_working=True)
    want_mirrored = local_features.extract_mirrored(want)
    for got, expected in ((query, want), (mirrored, want_mirrored)):
        assert got.original_size == expected.original_size and got.working_size == expected.working_size
        for name in ("points", "descriptors", "template", "colour", "working", "working_colour"):
            assert np.array_equal(getattr(got, name), getattr(expected, name)), name
        assert len(got.pyramid) == len(expected.pyramid)
        assert all(np.array_equal(a, b) for a, b in zip(got.pyramid, expected.pyramid))
    # compact: the two feature sets, not the working images
    assert len(pickle.dumps(prints.query)) < 200_000


def test_low_information_images_carry_no_query_features(tmp_path):
    from PIL import Image

    path = save(Image.new("RGB", (400, 300), (40, 90, 200)), tmp_path / "flat.png")
    assert fingerprint_file(str(path)).prints.query is None


def test_prints_without_the_image_carry_no_query_features(tmp_path):
    path = save(photo("coffee"), tmp_path / "c.jpg")
    prints = fingerprint_file(str(path), keep_image=False).prints
    assert prints.decoded is None and prints.query is None
    assert isinstance(QueryFeatures.compute(photo("coffee")), QueryFeatures)


def test_a_tall_file_is_matched_as_a_check_would_see_it(tmp_path):
    """The stored prints come from the 1,024-px working image; the query side of a tall phone
    screenshot from the file decoded again at a check's size (1 MP of query features, not ~0.5)."""
    from provenance.media import load_image
    from provenance.prints import fingerprint_image

    tall = save(photo("coffee").resize((1080, 2340)), tmp_path / "tall.png")
    wide = save(photo("coffee").resize((1600, 1200)), tmp_path / "wide.jpg")
    prints = fingerprint_file(str(tall)).prints
    assert prints.decoded.image.size == (1080, 2340) and prints.query is not None
    query, _ = prints.query.unpack(prints.decoded.image)
    assert query.original_size == (1080, 2340)
    assert query.working_size[0] * query.working_size[1] > 0.9e6
    stored = fingerprint_image(load_image(str(tall)))
    assert prints.fingerprints == stored.fingerprints and prints.local_blob == stored.local_blob
    assert max(fingerprint_file(str(wide)).prints.decoded.image.size) == 1024  # 4:3 gains too little
