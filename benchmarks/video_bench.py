"""Video benchmark: indexing speed, clip and screenshot recall, timecode error, false matches.

Run (one command; the first run builds the videos, 35 minutes on a busy 2-core machine, cached
in bench-cache/video-v1-full/):

    .venv/bin/python benchmarks/video_bench.py            # the full benchmark
    .venv/bin/python benchmarks/video_bench.py --quick    # fewer, shorter videos (a smoke run)

What it builds, from freely licensed photographs (benchmarks/photos.py; scikit-image's bundled
photographs when the Debian wallpaper packages are missing):

- **sources**: slideshows with pans, zooms and hard cuts (shots of 3-7 s), H.264 as a camera or
  an editor writes it (x264, I-frames at cuts and every 10 s), at 480p and 1080p, 25 fps;
- **distractors**: more such slideshows of other photographs, indexed beside the sources;
- **re-publications** of each source: the whole video re-encoded as a platform does (2 s GOP,
  lower quality), and segments of 12-20 s scaled down (MPEG-4 in AVI), letterboxed into 4:3,
  stamped with a logo, turned grey (VP9 in WebM), turned sepia (Matroska), trimmed, and cut
  into the middle of unrelated footage; and screenshots of single frames drawn in a player
  with its controls over the picture;
- **unrelated** videos and screenshots of them, never indexed: any match is a false match.

What it prints: the machine; decoding and fingerprinting speed in video seconds per second of
one core (CPU time of a single-threaded decoder: other processes on the machine do not count)
and of the wall clock; recall for clips (right source, offset within 1 s) and for screenshots
(right source), the timecode error of screenshots, false matches, and the distance
distributions the thresholds in video.py and video_match.py were chosen from.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw

#: A cut keyframe lands on the first frame decoded after the cut; B-frames are skipped
#: (video.py), so that is the next I- or P-frame, measured 0.12-0.32 s late at 25 fps.
CUT_TOLERANCE = 0.4

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from provenance import Claim, Ledger, check, index_files  # noqa: E402
from provenance import video as V  # noqa: E402
from provenance import video_match as VM  # noqa: E402

CACHE_VERSION = 1
FPS = 25
SEED = 20241125


@dataclass
class Config:
    name: str
    sources: list[tuple[str, tuple[int, int], int, float]]  # (label, size, count, seconds)
    distractors: int
    unrelated: int
    screenshots: int
    clip_seconds: tuple[float, float]


FULL = Config("full", [("480p", (854, 480), 4, 60.0), ("1080p", (1920, 1080), 2, 40.0)], 4, 4, 8, (12.0, 20.0))
QUICK = Config("quick", [("480p", (854, 480), 1, 24.0), ("1080p", (1920, 1080), 1, 12.0)], 1, 1, 4, (6.0, 9.0))
EDITS = ("reencode", "scale", "bars", "logo", "grey", "sepia", "trim", "inside")


# --- photographs and slideshows -----------------------------------------------------------------

def load_pictures() -> list[np.ndarray]:
    """The photo corpus (benchmarks/photos.py), largest first within a fixed shuffle."""
    import photos

    try:
        corpus = photos.load_photos(min_count=20)
    except (photos.MissingPackageError, ValueError):
        corpus = photos.load_photos(min_count=0, sources=("skimage", "sklearn"))
    pictures = [np.asarray(p.image.convert("RGB")) for p in corpus]
    random.Random(SEED).shuffle(pictures)
    return pictures


@dataclass
class Shot:
    picture: int
    seconds: float
    zoom: tuple[float, float]
    pan: tuple[tuple[float, float], tuple[float, float]]  # window centre, as shares of the slack


def script(rng: random.Random, pictures: list[int], seconds: float) -> list[Shot]:
    """Shots of 3-7 s, each a slow zoom in or out and a pan across one photograph."""
    shots, total, k = [], 0.0, 0
    while total < seconds - 1e-6:
        d = min(rng.uniform(3.0, 7.0), seconds - total)
        if d < 1.0 and shots:
            shots[-1].seconds += d
            break
        z = (1.0, rng.uniform(1.15, 1.35))
        if rng.random() < 0.5:
            z = (z[1], z[0])
        pan = ((rng.random(), rng.random()), (rng.random(), rng.random()))
        shots.append(Shot(pictures[k % len(pictures)], d, z, pan))
        total += d
        k += 1
    return shots


def cuts_of(shots: list[Shot]) -> list[float]:
    """The times of the first frames of shots 2, 3, ... (render() gives each shot whole frames)."""
    out, frames = [], 0
    for s in shots[:-1]:
        frames += int(round(s.seconds * FPS))
        out.append(frames / FPS)
    return out


def render(pictures: list[np.ndarray], shots: list[Shot], size: tuple[int, int]):
    """Yield the frames (RGB) of a slideshow."""
    w, h = size
    for shot in shots:
        pic = pictures[shot.picture]
        ph, pw = pic.shape[:2]
        # reduce the photograph once per shot to ~1.25 source pixels per output pixel at most zoom
        ratio = min(pw, ph * w / h) / max(shot.zoom) / w
        if ratio > 1.25:
            f = 1.25 / ratio
            pic = cv2.resize(pic, (max(w, int(pw * f)), max(h, int(ph * f))), interpolation=cv2.INTER_AREA)
            ph, pw = pic.shape[:2]
        n = int(round(shot.seconds * FPS))
        for i in range(n):
            u = i / max(n - 1, 1)
            z = shot.zoom[0] + (shot.zoom[1] - shot.zoom[0]) * u
            cw = min(pw, ph * w / h) / z
            ch = cw * h / w
            cx = shot.pan[0][0] + (shot.pan[1][0] - shot.pan[0][0]) * u
            cy = shot.pan[0][1] + (shot.pan[1][1] - shot.pan[0][1]) * u
            x0, y0 = (pw - cw) * cx, (ph - ch) * cy
            m = np.array([[w / cw, 0, -x0 * w / cw], [0, h / ch, -y0 * h / ch]])
            yield cv2.warpAffine(pic, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# --- encoding and decoding --------------------------------------------------------------------

def encode(path: Path, frames, codec: str = "libx264", options: dict | None = None, size=None) -> Path:
    """Encode RGB frames (any iterable) at FPS; the container follows the file name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    with av.open(str(tmp), "w") as out:
        stream = None
        for f in frames:
            if stream is None:
                stream = out.add_stream(codec, rate=FPS)
                stream.height, stream.width = f.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.thread_type = "AUTO"
                stream.options = options or {}
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.rename(path)
    return path


def decode(path: Path, start: float = 0.0, end: float = 1e9):
    """Yield (time, RGB frame) of every frame between start and end."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for frame in c.decode(s):
            t = float(frame.pts * s.time_base)
            if t < start - 1e-6:
                continue
            if t >= end - 1e-6:
                break
            yield t, frame.to_ndarray(format="rgb24")


X264_SOURCE = {"preset": "superfast", "crf": "21"}  # keyint 250 and scene-cut I-frames: x264's defaults
X264_PLATFORM = {"preset": "veryfast", "crf": "30", "g": str(2 * FPS), "keyint_min": str(2 * FPS), "sc_threshold": "0"}
X264_DENSE = {"preset": "veryfast", "crf": "28", "g": str(FPS // 2), "keyint_min": str(FPS // 2)}


# --- edits ----------------------------------------------------------------------------------

def _scale(f, size):
    return cv2.resize(f, size, interpolation=cv2.INTER_AREA)


def _bars(f, size=(640, 480)):
    w, h = size
    fh, fw = f.shape[:2]
    s = min(w / fw, h / fh)
    nw, nh = int(fw * s) // 2 * 2, int(fh * s) // 2 * 2
    canvas = np.zeros((h, w, 3), np.uint8)
    y, x = (h - nh) // 2, (w - nw) // 2
    canvas[y:y + nh, x:x + nw] = cv2.resize(f, (nw, nh), interpolation=cv2.INTER_AREA)
    return canvas


def _logo(f, text="CHANNEL 9"):
    img = Image.fromarray(f)
    w, h = img.size
    d = ImageDraw.Draw(img)
    s = h / 480
    d.rounded_rectangle((w - int(170 * s), int(14 * s), w - int(14 * s), int(58 * s)), radius=int(8 * s), fill=(230, 40, 30))
    d.text((w - int(160 * s), int(22 * s)), text, fill="white", font_size=int(24 * s))
    return np.asarray(img)


def _grey(f):
    return np.repeat(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


_SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)


def _sepia(f):
    return np.clip(f.astype(np.float32) @ _SEPIA.T, 0, 255).astype(np.uint8)


def player_screenshot(frame: np.ndarray, rng: random.Random, t: float, duration: float) -> Image.Image:
    """A browser screenshot of a player showing the frame, controls drawn over its bottom."""
    width = rng.choice([960, 1280])
    fh, fw = frame.shape[:2]
    shown = Image.fromarray(frame).resize((width, round(width * fh / fw)), Image.Resampling.BICUBIC)
    page = Image.new("RGB", (width + 2 * 60, shown.height + 260), (249, 249, 249))
    page.paste(shown, (60, 90))
    d = ImageDraw.Draw(page)
    d.text((60, 30), "Breaking: footage from the scene", fill=(15, 15, 15), font_size=28)
    d.text((60, 90 + shown.height + 20), "1,204,551 views  ·  Channel name", fill=(90, 90, 90), font_size=20)
    y = 90 + shown.height - 48
    bar = Image.new("RGBA", (width, 48), (0, 0, 0, 150))
    page.paste(bar, (60, y), bar)
    done = int(width * t / max(duration, 1e-6))
    d.rectangle((60, y, 60 + width, y + 4), fill=(120, 120, 120))
    d.rectangle((60, y, 60 + done, y + 4), fill=(230, 30, 30))
    d.polygon([(76, y + 14), (76, y + 40), (98, y + 27)], fill="white")
    d.text((116, y + 14), f"{int(t // 60)}:{int(t % 60):02d} / {int(duration // 60)}:{int(duration % 60):02d}", fill="white", font_size=18)
    cx, cy = 60 + width // 2, 90 + shown.height // 2  # a "paused" button over the middle
    disc = Image.new("RGBA", (72, 72), (0, 0, 0, 0))
    ImageDraw.Draw(disc).ellipse((0, 0, 71, 71), fill=(0, 0, 0, 140))
    page.paste(disc, (cx - 36, cy - 36), disc)
    d.polygon([(cx - 10, cy - 16), (cx - 10, cy + 16), (cx + 16, cy)], fill="white")
    return page


# --- the corpus -------------------------------------------------------------------------------

@dataclass
class Query:
    path: Path
    kind: str  # an edit name, "screenshot", "unrelated", "unrelated_screenshot"
    source: str | None  # file name of the source video
    offset: float | None = None  # source time = query time + offset (clips)
    segment: tuple[float, float] | None = None  # the source segment shown
    moment: float | None = None  # screenshots: the frame's time in the source


@dataclass
class Corpus:
    root: Path
    sources: dict[str, dict] = field(default_factory=dict)  # name -> {"path", "label", "cuts", "seconds"}
    distractors: list[Path] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)


def build(config: Config) -> Corpus:
    root = REPO / "bench-cache" / f"video-v{CACHE_VERSION}-{config.name}"
    manifest = root / "corpus.json"
    if manifest.exists():
        return _load_corpus(root, manifest)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t0 = time.time()
    pictures = load_pictures()
    rng = random.Random(SEED)
    order = list(range(len(pictures)))
    pool = iter(order)

    def take(n):
        return [next(pool) for _ in range(n)]

    corpus = Corpus(root)
    for label, size, count, seconds in config.sources:
        for k in range(count):
            shots = script(rng, take(14), seconds)
            name = f"src_{label}_{k}.mp4"
            path = encode(root / "index" / name, render(pictures, shots, size), options=X264_SOURCE)
            corpus.sources[name] = {"path": str(path), "label": label, "cuts": cuts_of(shots), "seconds": seconds,
                                    "size": list(size)}
            print(f"  built {name} ({time.time() - t0:.0f} s)", file=sys.stderr)
    for k in range(config.distractors):
        shots = script(rng, take(8), 30.0)
        corpus.distractors.append(encode(root / "index" / f"distractor_{k}.mp4", render(pictures, shots, (854, 480)),
                                         options=X264_SOURCE))
    filler_pictures = take(12)
    for name, src in corpus.sources.items():
        _republish(corpus, rng, name, src, pictures, filler_pictures, config)
        print(f"  re-published {name} ({time.time() - t0:.0f} s)", file=sys.stderr)
    for k in range(config.unrelated):
        shots = script(rng, take(8), 20.0)
        path = encode(root / "queries" / f"unrelated_{k}.mp4", render(pictures, shots, (854, 480)), options=X264_PLATFORM)
        corpus.queries.append(Query(path, "unrelated", None))
        for t, frame in decode(path, 5.0 + 4 * k, 5.0 + 4 * k + 0.05):
            shot = root / "queries" / f"unrelated_{k}_shot.png"
            player_screenshot(frame, rng, t, 20.0).save(shot)
            corpus.queries.append(Query(shot, "unrelated_screenshot", None))
            break
    manifest.write_text(json.dumps({
        "sources": corpus.sources,
        "distractors": [str(p) for p in corpus.distractors],
        "queries": [{**q.__dict__, "path": str(q.path)} for q in corpus.queries],
    }, indent=1))
    print(f"  corpus built in {time.time() - t0:.0f} s", file=sys.stderr)
    return corpus


def _republish(corpus: Corpus, rng: random.Random, name: str, src: dict, pictures, filler_pictures, config: Config):
    path, seconds = Path(src["path"]), src["seconds"]
    qdir = corpus.root / "queries"
    stem = name.rsplit(".", 1)[0]
    w, h = src["size"]
    small = (640, 360) if h > 480 else (426, 240)

    def segment():
        length = rng.uniform(*config.clip_seconds)
        a = round(rng.uniform(0.5, seconds - length - 0.5) * FPS) / FPS
        return a, a + length

    def frames(a, b, edit):
        for _, f in decode(path, a, b):
            yield edit(f)

    def add(kind, out, a, b, offset):
        corpus.queries.append(Query(out, kind, name, offset, (a, b)))

    out = encode(qdir / f"{stem}_reencode.mp4", frames(0, seconds, lambda f: f), options=X264_PLATFORM)
    add("reencode", out, 0.0, seconds, 0.0)
    a, b = segment()
    add("scale", encode(qdir / f"{stem}_scale.avi", frames(a, b, lambda f: _scale(f, small)), codec="mpeg4",
                        options={"qscale": "6"}), a, b, a)
    a, b = segment()
    add("bars", encode(qdir / f"{stem}_bars.mov", frames(a, b, _bars), options=X264_PLATFORM), a, b, a)
    a, b = segment()
    add("logo", encode(qdir / f"{stem}_logo.mp4", frames(a, b, _logo), options=X264_PLATFORM), a, b, a)
    a, b = segment()
    add("grey", encode(qdir / f"{stem}_grey.webm", frames(a, b, lambda f: _scale(_grey(f), small)), codec="libvpx-vp9",
                       options={"crf": "38", "b": "0", "deadline": "realtime", "cpu-used": "8", "g": str(2 * FPS)}), a, b, a)
    a, b = segment()
    add("sepia", encode(qdir / f"{stem}_sepia.mkv", frames(a, b, _sepia), options=X264_PLATFORM), a, b, a)
    a, b = segment()
    add("trim", encode(qdir / f"{stem}_trim.mp4", frames(a, b, lambda f: f), options=X264_DENSE), a, b, a)
    a, b = segment()
    before = rng.uniform(5.0, 10.0)
    filler = script(rng, rng.sample(filler_pictures, 6), before + 8.0)

    def inside():
        fill = render(pictures, filler, (w, h))
        for i, f in enumerate(fill):
            if i == int(round(before * FPS)):
                yield from frames(a, b, lambda g: g)
            yield f
    add("inside", encode(qdir / f"{stem}_inside.mp4", inside(), options=X264_PLATFORM), a, b, a - round(before * FPS) / FPS)
    cuts = src["cuts"]
    for k in range(config.screenshots):
        t_wanted = rng.uniform(0.5, seconds - 0.5)
        for t, frame in decode(path, t_wanted, t_wanted + 0.05):
            shot = qdir / f"{stem}_shot{k}.png"
            player_screenshot(frame, rng, t, seconds).save(shot)
            near_cut = min((abs(t - c) for c in cuts), default=9.0)
            corpus.queries.append(Query(shot, "screenshot", name, moment=t, segment=(near_cut, near_cut)))
            break


def _load_corpus(root: Path, manifest: Path) -> Corpus:
    data = json.loads(manifest.read_text())
    corpus = Corpus(root, data["sources"], [Path(p) for p in data["distractors"]])
    for q in data["queries"]:
        q["path"] = Path(q["path"])
        q["segment"] = tuple(q["segment"]) if q["segment"] else None
        corpus.queries.append(Query(**q))
    return corpus


# --- measurements -----------------------------------------------------------------------------

def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "load_average": [round(x, 2) for x in load] if load else None,
            "pyav": av.__version__, "ffmpeg_libavcodec": ".".join(map(str, av.library_versions["libavcodec"]))}


def measure_speed(paths: list[Path]) -> dict:
    """Decode + keyframes + fingerprints of each file on one core (CPU time and wall clock)."""
    out = {}
    for path in paths:
        seconds = V.probe(path).duration_s
        cpu0, wall0 = time.process_time(), time.perf_counter()
        video = V.fingerprint_video(path, threads=1)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        out[path.name] = {"video_s": seconds, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
                          "x_realtime_cpu": round(seconds / cpu, 1), "x_realtime_wall": round(seconds / wall, 1),
                          "keyframes": len(video.keyframes), "samples": len(video.track),
                          "key_only_share": round(video.key_only_share, 2),
                          "track_bytes": len(video.track.to_bytes()),
                          "keyframe_bytes": sum(len(k.prints.local_blob or b"") + 200 for k in video.keyframes)}
    return out


def cut_detection(corpus: Corpus) -> dict:
    """How well keyframes land on the true cuts, and the distances (video.tiny_distance) between
    consecutive samples that the cut threshold splits."""
    within, across = [], []
    found = total = false = 0
    for name, src in corpus.sources.items():
        video = V.fingerprint_video(src["path"])
        cuts = np.asarray(src["cuts"])
        tr = video.track
        for i in range(1, len(tr)):
            d = float(V.tiny_distance(tr.thumbs[i], tr.thumbs[i - 1:i])[0])
            spans = np.any((cuts > tr.times[i - 1] + 1e-6) & (cuts <= tr.times[i] + 1e-6))
            (across if spans else within).append(d)
        cut_keys = [k.time for k in video.keyframes if k.reason == "cut"]
        for c in cuts:
            total += 1
            found += any(abs(c - t) <= CUT_TOLERANCE for t in cut_keys)
        false += sum(1 for t in cut_keys if min(abs(cuts - t)) > CUT_TOLERANCE)
    return {"cuts": total, "cut_keyframes_found": found, "false_cut_keyframes": false,
            "within_shot_distance_p99": round(float(np.percentile(within, 99)), 3),
            "within_shot_distance_max": round(float(max(within)), 3),
            "across_cut_distance_min": round(float(min(across)), 3) if across else None,
            "across_cut_distance_p05": round(float(np.percentile(across, 5)), 3) if across else None,
            "cut_threshold": V.CUT_DISTANCE}


def run(config: Config, as_json: Path | None) -> dict:
    corpus = build(config)
    result: dict = {"machine": machine(), "config": config.name}
    print_machine(result["machine"])

    # speed: one core for the decoder, measured on each source and on a dense-GOP re-upload
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    speed_files = [Path(s["path"]) for s in corpus.sources.values()]
    speed_files += [q.path for q in corpus.queries if q.kind == "trim"][:2]
    speed = measure_speed(speed_files)
    result["speed"] = speed
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    print_speed(speed, corpus)

    result["cuts"] = cut_detection(corpus)
    print(f"\ncut detection: {result['cuts']}")

    # index the sources and distractors, then check every query
    with tempfile.TemporaryDirectory() as tmp:
        with Ledger(Path(tmp) / "bench.db") as led:
            t0 = time.perf_counter()
            paths = [Path(s["path"]) for s in corpus.sources.values()] + corpus.distractors
            summary = index_files(led, paths, Claim("source-outlet", None, None, None))
            seconds = sum(V.probe(p).duration_s for p in paths)
            index_wall = time.perf_counter() - t0
            assert summary.failed == 0, summary.failures
            result["index"] = {"videos": len(paths), "video_s": round(seconds, 1), "wall_s": round(index_wall, 1),
                               "x_realtime_wall": round(seconds / index_wall, 1),
                               "ledger_bytes": sum(p.stat().st_size for p in Path(tmp).glob("bench.db*"))}
            print(f"\nindexing (ledger writes and matching included, all cores): {result['index']}")
            rows = []
            t0 = time.perf_counter()
            for q, r in zip(corpus.queries, check(led, [q.path for q in corpus.queries])):
                rows.append(grade(q, r))
            result["check_wall_s"] = round(time.perf_counter() - t0, 1)
    result.update(summarise(rows))
    print_quality(result, rows)
    if as_json:
        as_json.write_text(json.dumps({**result, "rows": rows}, indent=1, default=str))
    return result


def grade(q: Query, r) -> dict:
    row = {"query": q.path.name, "kind": q.kind, "source": q.source, "error": r.error, "matches": len(r.matches)}
    if q.kind in EDITS:
        videos = [m for m in r.matches if m.method in ("video", "sha256")]
        top = videos[0] if videos else None
        row["found"] = bool(top and Path(top.path).name == q.source)
        if top is not None and top.method == "video":
            ev = top.evidence
            row.update(offset=ev["offset_s"], offset_error=round(abs(ev["offset_s"] - q.offset), 3),
                       share=ev["query_share"], distance=top.distance, segments=len(ev["segments"]),
                       query_start=ev["query_start_s"], query_end=ev["query_end_s"])
            row["correct"] = row["found"] and row["offset_error"] <= 1.0
        else:
            row["correct"] = False
        row["wrong_sources"] = sum(1 for m in r.matches if m.method == "video" and Path(m.path).name != q.source)
    elif q.kind == "screenshot":
        top = r.matches[0] if r.matches else None
        row["found"] = bool(top and Path(top.path or "").name == q.source)
        row["correct"] = row["found"]
        if top is not None and "timestamp_s" in top.evidence:
            ev = top.evidence
            row.update(moment=round(q.moment, 3), timestamp=ev["timestamp_s"],
                       timecode_error=round(abs(ev["timestamp_s"] - q.moment), 3), basis=ev.get("timecode_basis"),
                       track_distance=ev.get("track_distance"), method=top.method,
                       from_keyframe=ev.get("from_keyframe_s"), near_cut=round(q.segment[0], 2))
        row["wrong_sources"] = sum(1 for m in r.matches if Path(m.path or "").name != q.source)
    else:
        row["false_matches"] = len(r.matches)
    return row


def summarise(rows: list[dict]) -> dict:
    clips = [r for r in rows if r["kind"] in EDITS]
    shots = [r for r in rows if r["kind"] == "screenshot"]
    errors = [r["timecode_error"] for r in shots if "timecode_error" in r and r["found"]]
    offsets = [r["offset_error"] for r in clips if r.get("correct")]
    unrelated = [r for r in rows if r["kind"].startswith("unrelated")]
    return {
        "clip_recall": round(sum(r["correct"] for r in clips) / max(len(clips), 1), 3),
        "clip_recall_by_edit": {e: f"{sum(r['correct'] for r in clips if r['kind'] == e)}/{sum(1 for r in clips if r['kind'] == e)}"
                                for e in EDITS},
        "clip_offset_error_s": _stats(offsets),
        "screenshot_recall": round(sum(r["correct"] for r in shots) / max(len(shots), 1), 3),
        "timecode_error_s": _stats(errors),
        "timecode_within_1s": f"{sum(e <= 1.0 for e in errors)}/{len(shots)}",
        "false_matches": {"unrelated_queries": len(unrelated),
                          "matched_anything": sum(1 for r in unrelated if r["false_matches"]),
                          "wrong_source_in_results": sum(r.get("wrong_sources", 0) for r in clips + shots)},
    }


def _stats(values: list[float]) -> dict:
    if not values:
        return {}
    v = np.asarray(values)
    return {"n": len(v), "median": round(float(np.median(v)), 3), "p95": round(float(np.percentile(v, 95)), 3),
            "max": round(float(v.max()), 3)}


def print_machine(m: dict) -> None:
    print("machine:", ", ".join(f"{k} {v}" for k, v in m.items()))


def print_speed(speed: dict, corpus: Corpus) -> None:
    print("\nspeed on one core (decode + keyframes + fingerprints; x real time = video seconds per second):")
    print(f"  {'file':34s} {'video s':>7s} {'x CPU':>7s} {'x wall':>7s} {'keyfr':>6s} {'I-only':>6s} {'track KB/min':>12s} {'keyframe KB/min':>15s}")
    for name, s in speed.items():
        per_min = 60.0 / s["video_s"]
        print(f"  {name:34s} {s['video_s']:7.1f} {s['x_realtime_cpu']:7.1f} {s['x_realtime_wall']:7.1f} {s['keyframes']:6d} "
              f"{s['key_only_share']:6.2f} {s['track_bytes'] * per_min / 1024:12.1f} {s['keyframe_bytes'] * per_min / 1024:15.1f}")
    for label in ("480p", "1080p"):
        rows = [s for n, s in speed.items() if corpus.sources.get(n, {}).get("label") == label]
        if rows:
            v = sum(r["video_s"] for r in rows)
            print(f"  {label} sources: x{v / sum(r['cpu_s'] for r in rows):.1f} real time per core (CPU time), "
                  f"x{v / sum(r['wall_s'] for r in rows):.1f} by the wall clock")


def print_quality(result: dict, rows: list[dict]) -> None:
    print(f"\nclip recall (right source, offset within 1 s): {result['clip_recall']}  by edit: {result['clip_recall_by_edit']}")
    print(f"clip offset error (s): {result['clip_offset_error_s']}")
    print(f"screenshot recall (right source first): {result['screenshot_recall']}")
    print(f"screenshot timecode error (s): {result['timecode_error_s']}, within 1 s: {result['timecode_within_1s']}")
    print(f"false matches: {result['false_matches']}")
    print(f"checking all {len(rows)} queries took {result['check_wall_s']} s")
    misses = [r for r in rows if r.get("correct") is False or r.get("false_matches") or
              (r["kind"] == "screenshot" and r.get("timecode_error", 0) > 1.0)]
    if misses:
        print("\nmisses and errors:")
        for r in misses:
            print("  ", {k: v for k, v in r.items() if v is not None})
    shots = [r for r in rows if r["kind"] == "screenshot" and r.get("track_distance") is not None]
    if shots:
        d = [r["track_distance"] for r in shots]
        print(f"\nscreenshot-to-track distance at the chosen sample (REFINE_MAX {VM.REFINE_MAX}): {_stats(d)}")
    clips = [r for r in rows if r.get("distance") is not None]
    if clips:
        by = {}
        for r in clips:
            by.setdefault(r["kind"], []).append(r["distance"])
        print("mean PDQ distance of the agreeing samples, by edit (PAIR_DISTANCE "
              f"{VM.PAIR_DISTANCE}): " + ", ".join(f"{k} {np.mean(v):.1f}" for k, v in by.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter videos")
    parser.add_argument("--json", type=Path, help="also write every figure and per-query row here")
    parser.add_argument("--rebuild", action="store_true", help="build the videos again")
    args = parser.parse_args()
    config = QUICK if args.quick else FULL
    if args.rebuild:
        shutil.rmtree(REPO / "bench-cache" / f"video-v{CACHE_VERSION}-{config.name}", ignore_errors=True)
    run(config, args.json)


if __name__ == "__main__":
    main()
