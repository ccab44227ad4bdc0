import io
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from provenance.errors import MediaError
from provenance.media import MAX_PIXELS, WORKING_SIDE, decode_image, load_image, parse_exif_datetime, read_exif

from .conftest import jpeg_bytes, photo


def test_decodes_jpeg_to_bounded_rgb_working_image():
    big = photo("astronaut").resize((3000, 2000))
    d = decode_image(jpeg_bytes(big), "big.jpg")
    assert d.format == "JPEG"
    assert (d.width, d.height) == (3000, 2000)
    assert d.image.mode == "RGB" and max(d.image.size) == WORKING_SIDE
    assert len(d.sha256) == 64


def test_exif_orientation_is_applied_and_exif_facts_read():
    img = photo("astronaut").resize((400, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    exif[0x010F] = "TestMake"
    exif[0x0110] = "TestModel"
    exif[0x0131] = "TestSoftware"
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0x9003] = "2016:11:09 10:11:12"
    d = decode_image(jpeg_bytes(img, exif=exif), "rot.jpg")
    assert d.image.size == (200, 400)
    assert (d.width, d.height) == (200, 400)
    assert d.exif.make == "TestMake" and d.exif.model == "TestModel" and d.exif.software == "TestSoftware"
    assert d.exif.taken_at.isoformat() == "2016-11-09T10:11:12"


def test_alpha_png_is_composited_on_white():
    img = Image.new("RGBA", (50, 40), (255, 0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    d = decode_image(buf.getvalue(), "a.png")
    assert d.image.getpixel((10, 10)) == (255, 255, 255)


def test_sixteen_bit_png_is_rescaled():
    img = Image.new("I;16", (20, 20))
    img.putpixel((0, 0), 65535)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    d = decode_image(buf.getvalue(), "deep.png")
    assert d.image.getpixel((0, 0)) == (255, 255, 255)
    assert d.image.getpixel((5, 5)) == (0, 0, 0)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (b"just some text, not a picture", "content is not an image"),
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40, "a video file"),
    ],
)
def test_non_images_are_refused_with_a_reason(data, reason):
    with pytest.raises(MediaError) as info:
        decode_image(data, "x.jpg")
    assert reason in str(info.value) and "x.jpg" in str(info.value)


def test_truncated_jpeg_is_refused():
    data = jpeg_bytes(photo("coffee"))
    with pytest.raises(MediaError, match="truncated"):
        decode_image(data[: len(data) // 3], "t.jpg")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header(width: int, height: int) -> bytes:
    """A well-formed PNG whose header claims width x height, with a tiny compressed body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + _chunk(b"IEND", b""))


def test_header_claiming_huge_dimensions_is_refused_before_decoding():
    with pytest.raises(MediaError, match="decompression bomb"):
        decode_image(_png_header(100_000, 100_000), "bomb.png")


def test_decompression_bomb_just_over_the_limit_is_refused():
    side = int(MAX_PIXELS**0.5) + 10
    with pytest.raises(MediaError, match="decompression bomb"):
        decode_image(_png_header(side, side), "bomb2.png")


def test_wrong_extension_with_real_image_content_still_decodes(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    photo("chelsea").save(path, "PNG")
    assert load_image(path).format == "PNG"


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(MediaError, match="cannot read"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(MediaError, match="empty file"):
        load_image(tmp_path / "empty.jpg")


def test_exif_date_parsing():
    assert parse_exif_datetime("0000:00:00 00:00:00") is None
    assert parse_exif_datetime("") is None
    assert parse_exif_datetime("2017:01:02 03:04:05").year == 2017


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_hostile_bytes_never_raise_anything_but_media_error(data):
    try:
        d = decode_image(data, "fuzz.bin")
    except MediaError:
        return
    assert d.image.mode == "RGB"


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=4000), st.binary(min_size=0, max_size=64), st.booleans())
def test_corrupted_jpegs_fail_cleanly(cut, noise, hashes_only):
    data = bytearray(jpeg_bytes(photo("camera", 0.25)))
    cut = min(cut, len(data) - 1)
    data[cut:cut + len(noise)] = noise
    try:
        decode_image(bytes(data), "c.jpg", hashes_only=hashes_only)
    except MediaError:
        pass
    read_exif(bytes(data))  # never raises


def test_decode_with_larger_gives_what_decode_image_gives_decoding_once_when_it_can(monkeypatch):
    """A scan's worker wants some files at a check's size too: a PNG phone screenshot is reduced
    from its one decode; a JPEG the working image took in draft mode is decoded again."""
    import numpy as np

    from provenance import media

    calls = []
    real = media._decode
    monkeypatch.setattr(media, "_decode", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    tall = photo("coffee").resize((1080, 2340))
    for fmt, decodes in (("PNG", 1), ("JPEG", 2)):  # the JPEG's working image is a draft at 1/2
        buf = io.BytesIO()
        tall.save(buf, fmt)
        calls.clear()
        decoded, larger = media.decode_with_larger(buf.getvalue(), "t", 2400)
        look = larger()
        assert len(calls) == decodes, fmt
        for got, side in ((decoded, media.WORKING_SIDE), (look, 2400)):
            want = real(buf.getvalue(), "t", side, keep_whole=False)[0]
            assert got.size == want.size == (1080, 2340)
            assert np.array_equal(np.asarray(got.image), np.asarray(want.image)), (fmt, side)


@pytest.mark.parametrize("fmt,size", [("JPEG", (2600, 1700)), ("JPEG", (1409, 939)), ("PNG", (1080, 2340)),
                                      ("JPEG", (700, 500)), ("PNG", (300, 200))])
def test_a_hashes_only_decode_gives_the_hash_picture_of_a_full_decode(fmt, size):
    """The global hashes are the same whether a file was decoded whole or for its hashes alone."""
    import numpy as np

    from provenance.fingerprints import PDQ, PHash, information_score
    from provenance.media import HASH_SIDE

    buf = io.BytesIO()
    photo("coffee").resize(size).save(buf, fmt)
    full = decode_image(buf.getvalue(), "f")
    quick = decode_image(buf.getvalue(), "f", hashes_only=True)
    assert full.size == quick.size == size and quick.image is quick.hash_picture
    longest = max(quick.image.size)
    assert HASH_SIDE <= longest < 2 * HASH_SIDE or longest == max(size) < 2 * HASH_SIDE
    assert max(full.image.size) == min(max(size), WORKING_SIDE)
    assert np.array_equal(np.asarray(full.hash_picture), np.asarray(quick.image))
    for algorithm in (PDQ, PHash):
        assert algorithm.compute(full) == algorithm.compute(quick)
    assert information_score(full) == information_score(quick)
