"""The benchmark media generators: edits, degenerate images, distractors and the photo corpus.

Fast (a few seconds) and independent of the Debian wallpaper packages: they use scikit-image's
bundled ``coffee`` photograph and small generated images.
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import edits, photos  # noqa: E402

EXPECTED_EDITS = {
    "recompress_q30", "resize_40", "crop_80", "crop_50", "logo_corner", "caption_banner",
    "social_screenshot", "letterbox", "mirror", "grayscale", "colour_shift", "rotate_5",
    "crop_logo_recompress", "collage_half", "screen_photo",
}
EXPECTED_DEGENERATE = {
    "flat_grey", "flat_colour", "gradient_linear", "gradient_radial", "checkerboard_small",
    "checkerboard_medium", "checkerboard_large", "near_blank_page", "text_page",
    "social_text_only", "app_interface",
}


def _digest(img: Image.Image) -> str:
    return hashlib.sha256(img.tobytes() + repr(img.size).encode()).hexdigest()


@pytest.fixture(scope="module")
def coffee() -> Image.Image:
    pytest.importorskip("skimage")
    return photos.load_source("skimage-coffee").image  # 600x400, CC0


@pytest.fixture(scope="module")
def edited(coffee) -> dict[str, Image.Image]:
    return {name: edit(coffee, random.Random(7)) for name, edit in edits.EDITS.items()}


def test_every_edit_is_registered():
    assert set(edits.EDITS) == EXPECTED_EDITS


def test_every_edit_returns_a_sane_rgb_image(coffee, edited):
    for name, out in edited.items():
        assert out.mode == "RGB", name
        assert 100 <= out.width <= 4000 and 100 <= out.height <= 4000, (name, out.size)
        assert np.asarray(out).std() > 5, name  # not blank


def test_edits_are_deterministic_for_a_seed(coffee, edited):
    for name, edit in edits.EDITS.items():
        assert _digest(edit(coffee, random.Random(7))) == _digest(edited[name]), name


def test_random_edits_depend_on_the_seed(coffee):
    for name in ("crop_50", "logo_corner", "social_screenshot", "screen_photo", "colour_shift"):
        a = edits.EDITS[name](coffee, random.Random(1))
        b = edits.EDITS[name](coffee, random.Random(2))
        assert _digest(a) != _digest(b), name


def test_geometry_of_simple_edits(coffee, edited):
    w, h = coffee.size
    assert edited["recompress_q30"].size == (w, h)
    assert edited["resize_40"].size == (round(w * 0.4), round(h * 0.4))
    for name, area in (("crop_80", 0.8), ("crop_50", 0.5)):
        cw, ch = edited[name].size
        assert cw * ch / (w * h) == pytest.approx(area, abs=0.02), name
        assert 0.8 < (cw / ch) / (w / h) < 1.2, name
    assert np.array_equal(np.asarray(edited["mirror"]), np.asarray(coffee)[:, ::-1])
    gray = np.asarray(edited["grayscale"]).astype(int)
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    assert edited["caption_banner"].width == w
    assert 1.12 <= edited["caption_banner"].height / h <= 1.26
    assert edited["social_screenshot"].width in (720, 1080)
    assert edited["collage_half"].size[0] > 1.9 * w or edited["collage_half"].size[1] > 1.9 * h
    lw, lh = edited["letterbox"].size
    assert abs(lw / lh - w / h) > 0.1


def test_rotate_leaves_no_empty_corners():
    bright = Image.new("RGB", (640, 480), (230, 200, 180))
    for seed in range(5):
        out = np.asarray(edits.rotate_5(bright, random.Random(seed)))
        corners = out[[0, 0, -1, -1], [0, -1, 0, -1]]
        assert corners.min() > 150, seed


def test_collage_takes_the_other_picture(coffee):
    other = Image.new("RGB", (300, 300), (0, 255, 0))
    out = np.asarray(edits.collage_half(coffee, random.Random(3), other=other))
    green = (out[..., 1] > 200) & (out[..., 0] < 50) & (out[..., 2] < 50)
    assert 0.4 < green.mean() < 0.55  # half the collage, less the gutter


def test_a_mirrored_stress_kind_is_its_edit_of_the_mirror_image(coffee):
    """crop_50_mirrored draws the same crop as crop_50 from the same seed, of the mirrored picture."""
    mirrored = edits.STRESS_EDITS["crop_50_mirrored"](coffee, random.Random(5))
    plain = edits.crop_50(ImageOps.mirror(coffee.convert("RGB")), random.Random(5))
    assert np.array_equal(np.asarray(mirrored), np.asarray(plain))
    assert not np.array_equal(np.asarray(mirrored), np.asarray(edits.crop_50(coffee, random.Random(5))))


def test_degenerate_set_is_complete_and_deterministic():
    assert set(edits.DEGENERATE) == EXPECTED_DEGENERATE
    for name, make in edits.DEGENERATE.items():
        a, b = make(random.Random(5)), make(random.Random(5))
        assert a.mode == "RGB" and min(a.size) >= 100, name
        assert _digest(a) == _digest(b), name


def test_distractors_are_distinct_deterministic_and_cheap():
    first = [edits.distractor(i) for i in range(60)]
    assert all(d.size == (800, 600) and d.mode == "RGB" for d in first)
    assert len({_digest(d) for d in first}) == len(first)
    assert _digest(edits.distractor(17)) == _digest(first[17])


def test_tiles_do_not_overlap_and_cover_the_image():
    boxes = photos.tile_boxes(1001, 667, 3, 3)
    cover = np.zeros((667, 1001), int)
    for left, top, right, bottom in boxes:
        cover[top:bottom, left:right] += 1
    assert (cover == 1).all()


def _fake(name: str, source: str) -> photos.Photo:
    return photos.Photo(name, Image.new("RGB", (8, 8)), source, "CC0-1.0")


def test_split_keeps_tiles_of_a_source_together_and_is_deterministic():
    corpus = [_fake(f"deb-{s}-r0c{t}", f"pkg-a: /x/{s}.jpg") for s in range(12) for t in range(4)]
    corpus += [_fake(f"pip-{s}", f"pkg-b: y/{s}.png") for s in range(9)]
    tune, report = photos.split_halves(corpus)
    assert sorted(p.name for p in tune + report) == sorted(p.name for p in corpus)
    assert not {p.source for p in tune} & {p.source for p in report}
    assert abs(len(tune) - len(report)) <= 4
    again = photos.split_halves(corpus)
    assert [p.name for p in again[0]] == [p.name for p in tune]


def test_split_balances_each_collection_and_the_halves():
    # pkg-a: files of 1..6 tiles (21 photos); pkg-b: 9 whole photos.
    corpus = [_fake(f"a-{s}-r0c{t}", f"pkg-a: /x/{s}.jpg") for s in range(6) for t in range(s + 1)]
    corpus += [_fake(f"b-{s}", f"pkg-b: y/{s}.png") for s in range(9)]
    tune, report = photos.split_halves(corpus)
    assert abs(len(tune) - len(report)) <= 1
    for package in ("pkg-a", "pkg-b"):
        a = sum(p.source.startswith(package) for p in tune)
        b = sum(p.source.startswith(package) for p in report)
        assert abs(a - b) <= 1, (package, a, b)


def test_tiles_listed_in_drop_are_left_out(tmp_path, monkeypatch):
    noise = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    path = tmp_path / "noise.png"
    Image.fromarray(noise).save(path)
    monkeypatch.setattr(photos, "_source_path", lambda entry: path)
    entry = photos._Entry("skimage", "noise", "noise.png", "CC0-1.0", (2, 3), ("r0c1", "r1c2"))
    names = [p.name for p in photos._photos_of(entry)]
    assert names == [f"skimage-noise-{t}" for t in ("r0c0", "r0c2", "r1c0", "r1c1")]


def test_load_photos_from_skimage_and_its_cache(tmp_path):
    pytest.importorskip("skimage")
    first = photos.load_photos(min_count=8, sources=("skimage",), cache_dir=tmp_path)
    assert len({p.name for p in first}) == len(first) == 8
    assert all(p.image.mode == "RGB" and p.licence and p.source for p in first)
    second = photos.load_photos(min_count=8, sources=("skimage",), cache_dir=tmp_path)
    assert [p.name for p in second] == [p.name for p in first]
    assert all(_digest(a.image) == _digest(b.image) for a, b in zip(first, second, strict=True))


def test_a_missing_package_names_its_install_command(monkeypatch, tmp_path):
    fake = photos._Collection("no-such-wallpapers-xyz", "apt", "a test package")
    monkeypatch.setitem(photos.COLLECTIONS, "nosuch", fake)
    with pytest.raises(photos.MissingPackageError, match="apt-get install -y no-such-wallpapers"):
        photos.load_photos(min_count=0, sources=("nosuch",), cache_dir=tmp_path)
