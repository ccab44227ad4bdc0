"""Video as a keyframe source: facts, keyframes, the track, timecodes of screenshots, bad files."""

import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from provenance import Claim, Ledger, check, history, index_files, scan
from provenance.errors import MediaError
from provenance.video import (
    CUT_DISTANCE,
    MAX_GAP,
    MIRROR_VARIANT,
    SAMPLE_FPS,
    Track,
    content_box,
    fingerprint_video,
    picture_thumb,
    probe,
    thumb_hashes,
    timecode,
)

from .conftest import save
from .videos import letterbox, player_screenshot, slideshow, write_audio_only, write_video

FPS = 12
SHOT = 2.5
NAMES = ["astronaut", "coffee", "chelsea", "rocket"]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A 10-second slideshow (4 shots of 2.5 s), its frames, and a ledger with it indexed."""
    root = tmp_path_factory.mktemp("video")
    frames = slideshow(NAMES, fps=FPS, shot_s=SHOT)
    path = write_video(root / "src.mp4", frames, FPS, audio=True,
                       metadata={"title": "Source clip", "creation_time": "2016-11-09T14:30:00.000000Z"})
    return root, frames, path


def test_probe_reads_stream_and_container_facts(source):
    _, frames, path = source
    facts = probe(path)
    assert facts.container == "mov" and facts.video_codec == "h264" and facts.audio_codecs == ["aac"]
    assert (facts.width, facts.height) == (320, 180)
    assert facts.fps == FPS and abs(facts.duration_s - len(frames) / FPS) < 0.2
    assert facts.title == "Source clip"
    assert facts.creation_time == datetime(2016, 11, 9, 14, 30, tzinfo=timezone.utc)
    assert facts.encoder.startswith("Lavf")
    assert len(facts.sha256) == 64 and facts.file_size == path.stat().st_size


def test_rotated_video_is_seen_upright(tmp_path):
    frames = slideshow(["coffee"], fps=FPS, shot_s=1.0)
    path = write_video(tmp_path / "phone.mp4", frames, FPS, rotation=90)
    facts = probe(path)
    assert facts.rotation == 90 and (facts.width, facts.height) == (180, 320)
    video = fingerprint_video(path, keep_images=True)
    assert video.keyframes[0].prints.decoded.image.size == (180, 320)


def test_keyframes_at_every_cut_and_at_least_every_few_seconds(tmp_path):
    # three shots of 2.5 s, then one of 8 s with a slow zoom
    frames = slideshow(NAMES[:3], fps=FPS, shot_s=SHOT) + slideshow(["hubble_deep_field"], fps=FPS, shot_s=8.0)
    video = fingerprint_video(write_video(tmp_path / "v.mp4", frames, FPS))
    times = [k.time for k in video.keyframes]
    reasons = {round(k.time * 4) / 4: k.reason for k in video.keyframes}
    assert video.keyframes[0].reason == "start" and times[0] == 0.0
    for cut in (SHOT, 2 * SHOT, 3 * SHOT):
        near = [t for t in times if abs(t - cut) <= 1 / SAMPLE_FPS + 1 / FPS]
        assert near and reasons[round(near[0] * 4) / 4] == "cut", (cut, times)
    gaps = np.diff(times + [len(frames) / FPS])
    assert gaps.max() <= MAX_GAP + 1 / SAMPLE_FPS + 1 / FPS, times
    # every keyframe is fingerprinted as an image, with a key derived from the video and moment
    prints = video.keyframes[1].prints
    assert {fp.algorithm for fp in prints.fingerprints} >= {"pdq", "phash"} and prints.local_blob
    assert prints.sha256 != video.sha256 and len({k.prints.sha256 for k in video.keyframes}) == len(times)
    # the track samples about SAMPLE_FPS frames a second and lands cuts far apart
    assert abs(len(video.track) - SAMPLE_FPS * len(frames) / FPS) <= 3


def test_sample_hashes_are_the_reference_bindings_bits(source):
    # The track's PDQ of each sample (and of its mirror) comes from numpy (fingerprints/pdq.pdq_grey):
    # it must be bit for bit what the pdqhash bindings give for the grey thumbnail repeated into
    # RGB, as indexed tracks were hashed, or Track.VERSION must change.
    import pdqhash

    from provenance.fingerprints import PDQ
    from provenance.fingerprints.pdq import _LUMA, _grey_luma, pdq_dihedral

    _, frames, _ = source
    rng = np.random.default_rng(5)
    thumbs = [picture_thumb(Image.fromarray(f)) for f in frames[::7]]
    thumbs += [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((128, 128), (87, 128), (128, 101), (36, 128), (128, 36))]  # 36: the most bars leave
    thumbs += [np.full((128, 128), 7, np.uint8), np.tile(np.arange(128, dtype=np.uint8), (96, 1))]
    informative = 0
    for thumb in thumbs:
        rgb = np.ascontiguousarray(np.repeat(thumb[:, :, None], 3, axis=2))
        plain, mirror, q = thumb_hashes(thumb)
        hexes, quality = pdq_dihedral(rgb)  # the image path, pinned to the bindings in test_fingerprints
        assert (plain.tobytes().hex(), mirror.tobytes().hex(), q) == (hexes[0], hexes[MIRROR_VARIANT], quality)
        variants, quality = pdqhash.compute_dihedral(rgb)
        assert q == int(quality)
        if q >= PDQ.min_quality:  # flat pictures (quality 0) have bits decided by float noise: never matched on
            informative += 1
            assert plain.tobytes() == np.packbits(variants[0].astype(np.uint8)).tobytes(), thumb.shape
            assert mirror.tobytes() == np.packbits(variants[MIRROR_VARIANT].astype(np.uint8)).tobytes(), thumb.shape
    assert informative >= len(thumbs) - 2
    # the grey look-up table is the RGB luma of (v, v, v) as the image path computes it, in rows of
    # the thumbnails' widths, to within one unit in the last place (matmul rounds a row's tail apart)
    for width in (36, 87, 128):
        levels = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None, None], 3, axis=3).repeat(width, axis=2)
        luma = (levels.astype(np.float32) @ _LUMA)[0]
        np.testing.assert_array_max_ulp(luma, np.repeat(_grey_luma()[:, None], width, axis=1), maxulp=1)


def test_track_round_trips_and_bars_are_cut():
    rng = np.random.default_rng(1)
    t = Track(np.round(np.arange(5) * 0.25, 3), rng.integers(0, 256, (5, 32), dtype=np.uint8),
              rng.integers(0, 101, 5).astype(np.uint8))
    back = Track.from_bytes(t.to_bytes())
    assert np.array_equal(back.times, t.times) and np.array_equal(back.hashes, t.hashes)
    assert np.array_equal(back.quality, t.quality)
    with pytest.raises(ValueError):
        Track.from_bytes(b"PVTR" + b"\x00" * 20)
    frame = slideshow(["coffee"], fps=1, shot_s=1.0)[0]
    boxed = np.asarray(Image.fromarray(letterbox([frame])[0]).convert("L"))
    x0, y0, x1, y1 = content_box(boxed)
    assert x0 == 0 and x1 == 320 and abs(y0 - 30) <= 1 and abs(y1 - 210) <= 1
    assert content_box(np.full((64, 64), 128, np.uint8)) == (0, 0, 64, 64)  # flat grey: no bars
    assert 0 < CUT_DISTANCE < 0.8
    assert timecode(83.46) == "00:01:23.5" and timecode(None) == "-"


def test_screenshot_and_still_are_matched_to_their_moment(source, tmp_path):
    _, frames, path = source
    with Ledger(tmp_path / "l.db") as led:
        index_files(led, [path], Claim("statemedia", None, None, "https://example.org/v"))
        queries = {}
        for t in (1.2, 6.1, 8.9):
            queries[t] = tmp_path / f"shot_{t}.png"
            player_screenshot(frames[int(t * FPS)]).save(queries[t])
        still = save(Image.fromarray(frames[int(4.0 * FPS)]), tmp_path / "still.jpg", quality=80)
        results = list(check(led, [*queries.values(), still]))
        for t, r in zip([*queries, 4.0], results):
            assert r.matches, r.query
            m = r.matches[0]
            assert m.path == str(path) and m.outlet == "statemedia"
            ev = m.evidence
            assert abs(ev["timestamp_s"] - t) <= 1.0, (t, ev)
            assert ev["timecode"] == timecode(ev["timestamp_s"])
            assert ev["keyframe_item_id"] and abs(ev["from_keyframe_s"] - (ev["timestamp_s"] - ev["keyframe_timestamp_s"])) < 1e-6


def test_still_indexed_after_its_video_links_to_the_moment(source, tmp_path):
    _, frames, path = source
    still = save(Image.fromarray(frames[int(6.0 * FPS)]), tmp_path / "still.jpg")
    with Ledger(tmp_path / "l.db") as led:
        index_files(led, [path], Claim("statemedia", datetime(2016, 11, 9, tzinfo=timezone.utc), "day", None))
        s = index_files(led, [still], Claim("reposter", datetime(2016, 11, 12, tzinfo=timezone.utc), "day", None))
        assert s.new_links == 1
        video_item = led.item_by_sha(probe(path).sha256)
        (link,) = led.links([video_item.id])
        assert link.earlier_item_id == video_item.id
        item = led.item_by_sha(__import__("hashlib").sha256(still.read_bytes()).hexdigest())
        h = history(led, item.id)
        assert h.first_seen.outlet == "statemedia"
        ev = __import__("json").loads(link.evidence_json)
        assert abs(ev["timestamp_s"] - 6.0) <= 1.0 and ev["timecode"].startswith("00:00:0")


def test_bad_video_files_fail_one_by_one_and_the_scan_goes_on(source, tmp_path):
    _, frames, path = source
    root = tmp_path / "arch"
    root.mkdir()
    shutil.copy(path, root / "good.mp4")
    data = path.read_bytes()
    (root / "empty.mp4").write_bytes(b"")
    (root / "noise.mkv").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    (root / "cut_header.mp4").write_bytes(data[: len(data) // 2])  # moov at the end: nothing to read
    faststart = write_video(tmp_path / "fs.mp4", frames, FPS, muxer_options={"movflags": "faststart"})
    fs = faststart.read_bytes()
    (root / "truncated.mp4").write_bytes(fs[: len(fs) // 3])
    write_audio_only(root / "song.mp4")
    (root / "playlist.mp4").write_text("#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    at = data.index(b"avc1", data.index(b"stsd"))
    (root / "unknown_codec.mp4").write_bytes(data[:at] + b"zzzz" + data[at + 4:])
    with Ledger(tmp_path / "l.db") as led:
        s = scan(led, root)
        reasons = {Path(p).name: r for p, r in s.failures}
        assert s.new_items == 1 and s.failed == 7, reasons
        assert "empty" in reasons["empty.mp4"]
        assert "not a video" in reasons["noise.mkv"]
        assert "truncated" in reasons["cut_header.mp4"]
        assert "truncated" in reasons["truncated.mp4"] and "00:00:" in reasons["truncated.mp4"]
        assert "audio only" in reasons["song.mp4"] and "aac" in reasons["song.mp4"]
        assert "not a video" in reasons["playlist.mp4"]
        assert "codec FFmpeg cannot decode" in reasons["unknown_codec.mp4"]
        assert all("\n" not in r for r in reasons.values())
        again = scan(led, root)
        assert (again.new_items, again.unchanged, again.failed) == (0, 1, 7)


def test_fingerprinting_raises_media_error_naming_the_file(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
    with pytest.raises(MediaError) as info:
        fingerprint_video(bad)
    assert info.value.path == str(bad)


def test_blurred_footage_is_found_by_thumbnail_with_its_moment(tmp_path):
    # out-of-focus footage gives local features nothing to hold on to: the thumbnail stage finds it
    import cv2

    frames = [cv2.GaussianBlur(f, (0, 0), 5) for f in slideshow(["coffee", "chelsea", "astronaut"], fps=FPS, shot_s=3.0)]
    path = write_video(tmp_path / "blurred.mp4", frames, FPS)
    other = [cv2.GaussianBlur(f, (0, 0), 5) for f in slideshow(["rocket", "hubble_deep_field"], fps=FPS, shot_s=3.0, seed=9)]
    with Ledger(tmp_path / "l.db") as led:
        index_files(led, [path], Claim("statemedia", None, None, None))
        shot = tmp_path / "shot.png"
        player_screenshot(frames[int(4.4 * FPS)]).save(shot)
        unrelated = tmp_path / "unrelated.png"
        player_screenshot(other[int(2.0 * FPS)]).save(unrelated)
        r, r_unrelated = check(led, [shot, unrelated])
    assert r.matches and r.matches[0].path == str(path)
    assert abs(r.matches[0].evidence["timestamp_s"] - 4.4) <= 1.0, r.matches[0].evidence
    assert r_unrelated.matches == []


def test_find_picture_in_a_screenshot():
    from provenance.video_match import find_picture

    frame = slideshow(["coffee"], fps=1, shot_s=1.0)[0]
    shot = player_screenshot(frame)  # the frame is shown at 2x at (40, 60)
    x0, y0, x1, y1 = find_picture(shot)
    assert abs(x0 - 40) <= 3 and abs(y0 - 60) <= 3 and abs(x1 - 680) <= 3 and abs(y1 - 420) <= 3
    assert find_picture(Image.fromarray(frame)) is None  # all picture


def test_video_on_every_backend(db_url, source, tmp_path):
    _, frames, path = source
    clip = write_video(tmp_path / "clip.mp4", frames[int(2 * FPS):int(7 * FPS)], FPS)
    shot = tmp_path / "shot.png"
    player_screenshot(frames[int(3.3 * FPS)]).save(shot)
    with Ledger(db_url) as led:
        s = index_files(led, [path], Claim("statemedia", None, None, None))
        assert (s.new_items, s.failed) == (1, 0)
        r_clip, r_shot = check(led, [clip, shot])
        assert r_clip.matches[0].method == "video" and abs(r_clip.matches[0].evidence["offset_s"] - 2.0) <= 0.5
        assert abs(r_shot.matches[0].evidence["timestamp_s"] - 3.3) <= 1.0
        again = index_files(led, [path], Claim("statemedia", None, None, None))
        assert again.new_items == 0


def test_dense_keyframes_are_decoded_alone(tmp_path):
    # every frame an I-frame (as intra-only codecs and some cameras write): samples are taken
    # SAMPLE_FPS times a second and the frames between them are never decoded
    frames = slideshow(NAMES[:2], fps=FPS, shot_s=SHOT)
    path = write_video(tmp_path / "intra.mp4", frames, FPS, options={"preset": "veryfast", "g": "1"})
    video = fingerprint_video(path)
    assert video.key_only_share > 0.9
    assert abs(len(video.track) - SAMPLE_FPS * len(frames) / FPS) <= 3
    assert [k.reason for k in video.keyframes].count("cut") == 1


def test_moment_is_narrowed_on_the_video_file_while_it_is_unchanged(source, tmp_path):
    # the indexed file is decoded again around the matched keyframe (and named in the evidence);
    # once it has moved away, the track alone narrows the moment
    _, frames, original = source
    path = tmp_path / "v.mp4"
    shutil.copy(original, path)
    with Ledger(tmp_path / "l.db") as led:
        index_files(led, [path], Claim("statemedia", None, None, None))
        shot = tmp_path / "shot.png"
        player_screenshot(frames[int(6.1 * FPS)]).save(shot)
        (r,) = check(led, [shot])
        ev = r.matches[0].evidence
        assert ev["timecode_basis"] == "video file" and ev["decoded_from"] == str(path), ev
        assert abs(ev["timestamp_s"] - 6.1) <= 0.5 and ev["file_distance"] <= 0.5
        assert abs(ev["from_keyframe_s"] - (ev["timestamp_s"] - ev["keyframe_timestamp_s"])) < 1e-6
        path.rename(tmp_path / "moved.mp4")
        (r,) = check(led, [shot])
        ev = r.matches[0].evidence
        assert ev["timecode_basis"] == "track" and "decoded_from" not in ev
        assert abs(ev["timestamp_s"] - 6.1) <= 1.0
