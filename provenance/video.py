"""Video as a source of keyframes: file facts, streamed samples, keyframes and a hash track.

Video = keyframe source x image fingerprinter. A video file is decoded once, as a stream (no
frame outlives the next one, so a 2-hour video needs the memory of a few frames), into:

- **samples**: about ``SAMPLE_FPS`` frames a second, each reduced at once to a small grey
  thumbnail, with letterbox/pillarbox bars cut off (:func:`content_box`);
- a **track**: the PDQ hash of every sample, with its time. Hashing a 128-pixel thumbnail costs
  ~0.2 ms (numpy, fingerprints/pdq.pdq_grey), so the track is cheap enough to keep for every
  sample (its hashes lie 12-16 bits from those of the full frame: PDQ's filters depend on the
  input size). It is what clip alignment and screenshot timecodes are computed from (see
  video_match.py);
- **keyframes**: one at the start, at every shot change, wherever the picture has drifted away
  from the last keyframe, and at least every ``MAX_GAP`` seconds. Each keyframe is a picture
  fingerprinted as an image is (SHA-256 key, PDQ and ORB local features of the FRAME_SIDE
  picture; pHash and information score from the sample's thumbnail, see keyframe_prints), so
  every image matcher applies to it unchanged.

Speed comes from decoding only what is needed (one core, 60 s of 480p: ~0.7 s of decoding, ~0.2 s
for the samples, ~25 ms per keyframe): when the stream's I-frames are at most ``KEY_ONLY_GAP``
apart only they are decoded; otherwise FFmpeg is told to skip the B-frames where no other frame
depends on them (``skip_frame=BIDIR``, exact, see _SKIP_BIDIR; else ``NONREF``), the deblocking
filter (an error of at most ~1 grey level, measured) and, for H.264, to use its "fast" flag
(measured identical frames); only the sampled frames are converted from YUV.

Every failure (unreadable, corrupt, truncated, audio-only, undecodable codec) is a MediaError
naming the file and the reason. FFmpeg is told to read plain local files with the demuxers of
real video containers only (``_DEMUXERS``), so a hostile "video" that is really a playlist or a
concat script cannot make it open other files or URLs.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction

import av
import av.error
import cv2
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import Interpolation, VideoReformatter
from PIL import Image

from .errors import MediaError
from .fingerprints import PDQ
from .fingerprints.pdq import pdq_grey
from .media import MAX_PIXELS, DecodedImage, ExifFacts, VIDEO_EXTENSIONS, looks_like_image
from .prints import ImagePrints, fingerprint_image

# --- sampling and keyframes -----------------------------------------------------------------
#: Samples per second for shot detection and the track: a screenshot's moment is found within
#: half a sample period (0.125 s) of the nearest sample.
SAMPLE_FPS = 4.0
#: When the I-frames of a stretch of video are at most this far apart, only they are decoded
#: (their spacing is then the sample period), which makes decoding 10-50 times cheaper.
KEY_ONLY_GAP = 1.0
#: A keyframe at least every MAX_GAP seconds of informative picture (the issue's "at least one
#: every few seconds"), unless the picture has not changed at all since the last one.
MAX_GAP = 4.0
#: No two keyframes closer than this, except at a shot change: fast motion cannot flood the index.
#: Keyframe density hardly matters for finding stills (the track, the thumbnail stage and the video
#: file narrow every moment): on the benchmark, 0.74 keyframes/s (drift 0.2, gap 1 s) and 0.46/s
#: (0.35, 2 s) found the same 46 of 48 screenshots. Keyframes are a third of the indexing cost:
#: MAX_GAP 4 s (was 3) takes 0.43/s instead of 0.46/s; MIN_GAP 3 s would take 0.37/s but leaves
#: moments of fast pans too far from every keyframe for the thumbnail stage (tests/test_video.py).
MIN_GAP = 2.0
#: Pictures are compared with tiny_distance() (see there): 0 for the same picture, about 0.7 for
#: unrelated ones, blind to what covers part of a picture. PDQ is no use here: a pan moves it
#: 60-90 bits within a second of one shot.
#: Distance between consecutive samples above which a shot change is declared. Benchmark (61
#: cuts, 1215 consecutive pairs within shots, pans and zooms of 15-35% in 3-7 s): within shots
#: p99 0.37; across cuts p05 0.44 (a few cuts between look-alike pictures lower). A missed cut
#: still gets a keyframe from the drift rule below.
CUT_DISTANCE = 0.4
#: ... and at least this many times the step between the two samples before: a fast pan over fine
#: texture moves consecutive samples 0.25-0.57 apart, step after step, and is no cut (the drift
#: rule keeps its keyframes MIN_GAP apart); a cut follows a calm step (benchmark: 0.05-0.15).
CUT_CONTRAST = 2.0
#: Distance from the last keyframe above which a new keyframe is taken inside a shot (the picture
#: has moved on).
DRIFT_DISTANCE = 0.35
#: An "interval" keyframe within this distance of the last keyframe adds nothing (a static shot,
#: a still picture with a soundtrack): it is not taken. Consecutive samples of a static shot differ
#: by compression noise only, below 0.02.
SAME_DISTANCE = 0.03
#: Longest side of a keyframe's working picture. Indexed local features work at 640 px and PDQ
#: reduces to 64 px, so 640 gives the same fingerprints as the 1024 px images get (within a few
#: PDQ bits) at a third of the cost.
FRAME_SIDE = 640
#: Side of the square grey thumbnail every sample is reduced to (aspect is not kept: PDQ itself
#: squeezes every picture to 64x64).
THUMB_SIDE = 128
#: Side of the thumbnail the track keeps of every sample (256 bytes, ~180 compressed): enough to
#: tell apart samples a quarter second apart in a pan, small enough for a 2-hour video (~6 MB).
TINY_SIDE = 16

# --- bars -----------------------------------------------------------------------------------
#: A border row or column is a bar when its grey levels span at most this many levels and it is
#: dark or bright (bars are black, sometimes white); mid-grey sky is never cut.
BAR_SPAN = 20
BAR_DARK, BAR_BRIGHT = 48, 215
#: At most this share of the thumbnail is cut from each side; beyond it the frame is taken as
#: almost empty (a fade) and left whole.
BAR_MAX_SHARE = 0.36

# --- safety ---------------------------------------------------------------------------------
#: Consecutive undecodable packets after which the stream is given up as corrupt.
MAX_CONSECUTIVE_ERRORS = 50
#: Non-key packets buffered while deciding whether a GOP needs decoding (bounds memory).
MAX_PENDING_PACKETS = 600
#: A stream whose decodable part ends this much (and this share) before its declared duration is
#: reported as truncated.
TRUNCATION_SLACK_S, TRUNCATION_SHARE = 2.0, 0.9
#: Codecs whose B-frames are skipped (``skip_frame=BIDIR``): I- and P-frames alone come at least
#: every few frames, and no I- or P-frame refers to a B-frame, so those decode exactly as in a full
#: decode (MPEG-1/2/4 part 2 by the standard; H.264 as x264 writes it, measured bit-exact on the
#: benchmark's camera and platform encodes), at 35-45% of the cost of decoding every frame. Should
#: a stream space its I/P frames further apart than BIDIR_MAX_GAP (more than a sample period: long
#: runs of B-frames, low frame rates), the decoder falls back to skipping non-reference frames only.
_SKIP_BIDIR = ("h264", "mpeg4", "mpeg2video", "mpeg1video", "msmpeg4v3", "h263")
BIDIR_MAX_GAP = 0.3
#: Demuxers of real video containers (FFmpeg short names); nothing else is opened.
_DEMUXERS = ("mov", "matroska", "webm", "avi", "asf", "flv", "mpeg", "mpegts", "mpegvideo", "m4v",
             "h264", "hevc", "ogg", "ivf", "mxf", "dv", "nut", "rm", "3gp")
_CONTAINER_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": ",".join(_DEMUXERS)}
#: Longest metadata value kept (hostile files carry megabyte-long tags).
_MAX_TAG = 512


def is_video_file(path: str | os.PathLike) -> bool:
    """True for a file named as a video, or whose first bytes are a video container's."""
    if os.path.splitext(str(path))[1].lower() in VIDEO_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return looks_like_video(head)


def looks_like_video(head: bytes) -> bool:
    """True when the first bytes are those of an MP4/MOV, Matroska/WebM, AVI, FLV or MPEG-TS file."""
    if looks_like_image(head):
        return False
    return (head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")
            or head[:4] == b"\x1aE\xdf\xa3"
            or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
            or head[:3] == b"FLV")


# --- facts ----------------------------------------------------------------------------------

@dataclass
class VideoFacts:
    """What a video file says about itself: stream properties and container metadata."""

    name: str
    sha256: str
    file_size: int
    container: str
    duration_s: float | None
    fps: float | None
    width: int  # display size: sample aspect ratio and rotation applied
    height: int
    video_codec: str
    audio_codecs: list[str] = field(default_factory=list)
    creation_time: datetime | None = None
    encoder: str | None = None
    title: str | None = None
    rotation: int = 0
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {
            "container": self.container,
            "duration_s": self.duration_s,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "video_codec": self.video_codec,
            "audio_codecs": self.audio_codecs,
            "creation_time": self.creation_time.isoformat() if self.creation_time else None,
            "encoder": self.encoder,
            "title": self.title,
            "rotation": self.rotation,
            "metadata": self.metadata,
        }


def probe(path: str | os.PathLike) -> VideoFacts:
    """The facts of a video file (SHA-256 of its bytes included); MediaError if it is not one."""
    sha, size = hash_file(path)
    with VideoDecoder(path) as decoder:
        next(decoder.samples(), None)  # the first frame tells the rotation
        return decoder.facts(sha, size)


def hash_file(path: str | os.PathLike) -> tuple[str, int]:
    """SHA-256 and size of a file, read in chunks (a video is never read into memory whole)."""
    name = str(path)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except IsADirectoryError:
        raise MediaError(name, "is a directory") from None
    except FileNotFoundError:
        raise MediaError(name, "no such file") from None
    except OSError as exc:
        raise MediaError(name, f"cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise MediaError(name, "empty file")
    return digest.hexdigest(), size


# --- the track ------------------------------------------------------------------------------

@dataclass
class Track:
    """Every sample of a video: its time (seconds from the start), PDQ hash and quality, and a tiny
    grey thumbnail of its picture (bars cut, TINY_SIDE square).

    Hashes align clips (video_match.align); thumbnails narrow a still's moment, compared cell by
    cell so that what a screenshot draws over part of the picture (a player's controls, a logo)
    does not count (video_match.refine). ``mirrored`` holds the hashes of the mirrored samples;
    queries compute it to find mirrored re-uploads, the ledger never stores it.
    """

    times: np.ndarray  # float64 (n,)
    hashes: np.ndarray  # uint8 (n, 32), PDQ bits in the reference order (first byte = bits 255..248)
    quality: np.ndarray  # uint8 (n,)
    thumbs: np.ndarray | None = None  # uint8 (n, TINY_SIDE, TINY_SIDE)
    mirrored: np.ndarray | None = None

    ALGORITHM = "pdq-track"
    VERSION = "1"
    _HEADER = struct.Struct("<4sBIBI")
    _MAGIC = b"PVTR"

    def __len__(self) -> int:
        return int(self.times.shape[0])

    @property
    def informative(self) -> np.ndarray:
        """Which samples have a PDQ quality worth matching on (PDQ.min_quality)."""
        return self.quality >= PDQ.min_quality

    def to_bytes(self) -> bytes:
        """Compact form for the ledger (37 bytes a sample, plus ~180 for the compressed thumbnail):
        times in milliseconds (uint32), hashes, qualities, then the zlib-compressed thumbnails."""
        n = len(self)
        ms = np.round(self.times * 1000).astype("<u4")
        side = 0 if self.thumbs is None else self.thumbs.shape[1]
        thumbs = b"" if self.thumbs is None else zlib.compress(np.ascontiguousarray(self.thumbs, np.uint8).tobytes(), 6)
        return b"".join([self._HEADER.pack(self._MAGIC, 1, n, side, len(thumbs)), ms.tobytes(),
                         np.ascontiguousarray(self.hashes, np.uint8).tobytes(), self.quality.astype(np.uint8).tobytes(),
                         thumbs])

    @classmethod
    def from_bytes(cls, blob: bytes) -> "Track":
        """Inverse of to_bytes (times on the millisecond grid); ValueError on a foreign blob."""
        if len(blob) < cls._HEADER.size:
            raise ValueError("track blob too short")
        magic, fmt, n, side, packed = cls._HEADER.unpack_from(blob)
        at = cls._HEADER.size
        if magic != cls._MAGIC or fmt != 1 or len(blob) != at + n * 37 + packed:
            raise ValueError("not a track blob of a known format")
        ms = np.frombuffer(blob, "<u4", n, at)
        hashes = np.frombuffer(blob, np.uint8, n * 32, at + 4 * n).reshape(n, 32)
        quality = np.frombuffer(blob, np.uint8, n, at + 36 * n)
        thumbs = None
        if side:
            try:
                raw = zlib.decompress(blob[at + 37 * n:])
            except zlib.error:
                raise ValueError("track thumbnails corrupt") from None
            if len(raw) != n * side * side:
                raise ValueError("track thumbnails have the wrong size")
            thumbs = np.frombuffer(raw, np.uint8).reshape(n, side, side).copy()
        return cls(ms.astype(np.float64) / 1000.0, hashes.copy(), quality.copy(), thumbs)


#: Index of the left-right mirror among the eight dihedral PDQ hashes in the reference's order
#: (pdqhash.compute_dihedral; measured: the reference's "flipY"; index 4 is the upside-down flip).
MIRROR_VARIANT = 5


def thumb_hashes(thumb: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """PDQ (32 packed bytes) of a grey thumbnail and of its mirror image, and quality.

    Bit for bit the pdqhash bindings' hashes of the thumbnail repeated into RGB, as the track was
    hashed before (fingerprints/pdq.py pdq_grey; tests/test_video.py checks it; 1,696 benchmark
    samples and screenshots, all equal), at 0.22 ms instead of 0.72 ms (the bindings' eight
    variants). Only a flat sample (PDQ quality 0, never matched on) may get other bits: its DCT
    is float noise, which the two implementations round differently.
    """
    hashes, quality = pdq_grey(thumb, (0, MIRROR_VARIANT))
    return hashes[0], hashes[1], quality


def tiny(thumb: np.ndarray) -> np.ndarray:
    """A grey thumbnail reduced to TINY_SIDE x TINY_SIDE (area average), as the track keeps it."""
    return cv2.resize(thumb, (TINY_SIDE, TINY_SIDE), interpolation=cv2.INTER_AREA)


#: The share of tiny-thumbnail cells tiny_distance compares: the rest, the most different, may be
#: covered by a player's controls, a logo or a caption.
TINY_CELLS = 0.85


def tiny_distance(query: np.ndarray, thumbs: np.ndarray, *, robust_start: bool = False) -> np.ndarray:
    """Distance of a tiny thumbnail to each of several (n, side, side), 0 for the same picture.

    Each thumbnail's cells are fitted as a linear function of the query's (brightness, contrast,
    grey and sepia copies fit exactly), twice refitted on the TINY_CELLS best-fitting cells, so
    that what covers part of the picture (a player's controls, a logo, a caption) neither counts
    nor skews the fit. The distance is the mean residual of those cells over the thumbnail's
    contrast: about 0.7 for unrelated pictures. A negative fit (an inverted picture) fits nothing.

    ``robust_start`` makes the first fit on the TINY_CELLS query cells nearest the query's median
    grey instead of on all cells. A dark player bar over a pale, low-contrast picture (a sky) holds
    most of the query's contrast: fitted on all cells, it pulls the slope to ~0, the refits never
    recover, the query's own frames lie ~0.65 away and frames with dark ground where the bar is
    look nearest (benchmark screenshot src_1080p_1_shot4: 0.65 at its moment, 0.13 four seconds
    later; from the median start, 0.11 at its moment). For narrowing a moment after a match only
    (narrowing_distance): the thresholds of keyframe choice and matching were measured without.
    """
    a = query.astype(np.float32).reshape(1, -1)
    b = thumbs.astype(np.float32).reshape(len(thumbs), -1)
    keep = max(2, int(a.shape[1] * TINY_CELLS))
    if robust_start:
        spread = np.abs(a - np.median(a))
        typical = spread <= np.partition(spread, keep - 1, axis=1)[:, keep - 1:keep]
        w = np.repeat(typical.astype(np.float32), len(b), axis=0)
    else:
        w = np.ones(b.shape, np.float32)
    for refit in range(3):
        n = w.sum(axis=1, keepdims=True)
        ma = (w * a).sum(axis=1, keepdims=True) / n
        mb = (w * b).sum(axis=1, keepdims=True) / n
        da = a - ma
        slope = np.maximum((w * da * (b - mb)).sum(axis=1, keepdims=True) / ((w * da * da).sum(axis=1, keepdims=True) + 1e-6), 0.0)
        residual = np.abs(b - mb - slope * da)
        cut = np.partition(residual, keep - 1, axis=1)[:, keep - 1:keep]
        w = (residual <= cut).astype(np.float32)
    contrast = np.sqrt((w * (b - mb) ** 2).sum(axis=1) / w.sum(axis=1))
    return np.partition(residual, keep - 1, axis=1)[:, :keep].mean(axis=1) / (contrast + 4.0)


def narrowing_distance(query: np.ndarray, thumbs: np.ndarray) -> np.ndarray:
    """tiny_distance for narrowing a moment once a picture has matched: the nearer of the fits
    started from all cells and from the query's typical cells (tiny_distance's robust_start)."""
    return np.minimum(tiny_distance(query, thumbs), tiny_distance(query, thumbs, robust_start=True))


def picture_thumb(image: Image.Image) -> np.ndarray:
    """A picture (a still, a screenshot) reduced the way samples are: grey, square, bars cut."""
    grey = np.asarray(image.convert("L").resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX))
    x0, y0, x1, y1 = content_box(grey)
    return grey[y0:y1, x0:x1]


# --- bars -----------------------------------------------------------------------------------

def content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a grey picture without its uniform dark or bright border bars."""
    h, w = grey.shape
    lo = grey.min(axis=1), grey.min(axis=0)
    hi = grey.max(axis=1), grey.max(axis=0)

    def bar(i: int, axis: int) -> bool:
        a, b = int(lo[axis][i]), int(hi[axis][i])
        return b - a <= BAR_SPAN and (b <= BAR_DARK or a >= BAR_BRIGHT)

    def run(n: int, axis: int, reverse: bool) -> int:
        limit = int(n * BAR_MAX_SHARE)
        count = 0
        for i in (range(n - 1, -1, -1) if reverse else range(n)):
            if count > limit or not bar(i, axis):
                break
            count += 1
        return 0 if count > limit else count

    top, bottom = run(h, 0, False), run(h, 0, True)
    left, right = run(w, 1, False), run(w, 1, True)
    return left, top, w - right, h - bottom


# --- decoding -------------------------------------------------------------------------------

@dataclass
class Sample:
    """One sampled frame: its time, its grey thumbnail (bars cut) and where the bars were.

    ``box`` is the content box as shares of the frame (x0, y0, x1, y1). The decoded frame itself
    is only valid until the next sample is drawn; ask the decoder for its picture before that.
    """

    time: float
    thumb: np.ndarray
    box: tuple[float, float, float, float]
    frame: av.VideoFrame = field(repr=False)


class VideoDecoder:
    """An open video file as a stream of samples. Use as a context manager.

    ``threads`` is FFmpeg's decoding threads (0: as many as it likes, 1: one core).
    """

    def __init__(self, path: str | os.PathLike, *, sample_fps: float = SAMPLE_FPS, threads: int = 0):
        self.name = str(path)
        self.sample_fps = sample_fps
        self.threads = threads
        self.container = None
        self.stream = None
        self.decode_errors = 0
        self.last_time = 0.0
        self.key_only_share = 0.0  # share of GOPs decoded as I-frames only, for the benchmark
        # One scaler per output size: a reformatter re-initialises whenever its output changes.
        self._thumbs = VideoReformatter()
        self._pictures = VideoReformatter()
        self._rotation = 0  # counterclockwise degrees a player turns the frames by; known at the first frame

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> "VideoDecoder":
        try:
            self.container = av.open(self.name, container_options=_CONTAINER_OPTIONS)
        except av.error.FileNotFoundError:
            raise MediaError(self.name, "no such file") from None
        except av.error.IsADirectoryError:
            raise MediaError(self.name, "is a directory") from None
        except av.error.PermissionError:
            raise MediaError(self.name, "cannot read: permission denied") from None
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise MediaError(self.name, f"not a video FFmpeg can read, or corrupt or truncated ({_short(exc)})") from None
        try:
            self._choose_stream()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None

    def _choose_stream(self) -> None:
        # Cover art in MP4/MKV/MP3 is a "video" stream of one picture: not a video.
        video = [s for s in self.container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
        streams = [s for s in video if s.codec_context is not None]
        if not streams:
            if video:
                raise MediaError(self.name, "a video stream in a codec FFmpeg cannot decode")
            audio = [s.codec_context.name for s in self.container.streams.audio if s.codec_context is not None]
            if audio:
                raise MediaError(self.name, f"audio only: no video stream (audio: {', '.join(audio)})")
            raise MediaError(self.name, "no video stream")
        stream = max(streams, key=lambda s: (s.codec_context.width or 0) * (s.codec_context.height or 0))
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise MediaError(self.name, f"video stream ({ctx.name}) has no frame size: corrupt or undecodable")
        if ctx.width * ctx.height > MAX_PIXELS:
            raise MediaError(self.name, f"refused: frames of {ctx.width}x{ctx.height} pixels, over the {MAX_PIXELS} pixel limit")
        stream.thread_type = "AUTO" if self.threads != 1 else "NONE"
        stream.thread_count = self.threads
        # B-frames of codecs whose B-frames no P-frame refers to are skipped (exact: see _SKIP_BIDIR);
        # elsewhere only the frames no other frame refers to.
        ctx.skip_frame = "BIDIR" if ctx.name in _SKIP_BIDIR else "NONREF"
        ctx.options = {"skip_loop_filter": "all"}
        if ctx.name == "h264":
            # FFmpeg's "non spec compliant speedup tricks": 18% less decoding, frames measured
            # identical (128 px grey and 640 px RGB) on the benchmark's x264 encodes.
            ctx.flags2 |= av.codec.context.Flags2.fast
        self.stream = stream

    # --- facts ------------------------------------------------------------------------------

    def facts(self, sha256: str, file_size: int) -> VideoFacts:
        """The stream's and the container's facts (no frame is decoded)."""
        c, s = self.container, self.stream
        ctx = s.codec_context
        duration = None
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif c.duration is not None:
            duration = c.duration / av.time_base
        rate = s.average_rate or s.guessed_rate or s.base_rate
        fps = round(float(rate), 3) if rate else None
        width, height = self._display_size(ctx.width, ctx.height)
        if self._rotation % 180:
            width, height = height, width
        tags = {"container": _tags(c.metadata), "video": _tags(s.metadata)}
        audio = [a.codec_context.name for a in c.streams.audio if a.codec_context is not None]
        if audio:
            tags["audio"] = [_tags(a.metadata) for a in c.streams.audio]
        everything = {**tags["video"], **tags["container"]}
        return VideoFacts(
            name=self.name,
            sha256=sha256,
            file_size=file_size,
            container=c.format.name.split(",")[0],
            duration_s=round(duration, 3) if duration is not None and math.isfinite(duration) else None,
            fps=fps,
            width=width,
            height=height,
            video_codec=ctx.name,
            audio_codecs=audio,
            creation_time=_parse_time(everything.get("creation_time") or everything.get("date")),
            encoder=everything.get("encoder"),
            title=tags["container"].get("title") or tags["video"].get("title"),
            rotation=self._rotation,
            metadata=tags,
        )

    # --- samples ----------------------------------------------------------------------------

    def samples(self) -> Iterator[Sample]:
        """About ``sample_fps`` frames a second (or every decoded I-frame), in time order."""
        period = 1.0 / self.sample_fps
        next_time = -1.0
        for frame, t in self._frames(lambda: next_time):
            if next_time < 0:
                self._rotation = (round((frame.rotation or 0) / 90) * 90) % 360
            if t + 1e-6 < next_time:
                continue
            next_time = (math.floor(t / period + 1e-6) + 1) * period
            thumb = self._thumbs.reformat(frame, width=THUMB_SIDE, height=THUMB_SIDE, format="gray",
                                               interpolation=Interpolation.AREA).to_ndarray()
            thumb = _rotate(thumb, self._rotation)
            x0, y0, x1, y1 = content_box(thumb)
            n = float(THUMB_SIDE)
            yield Sample(t, np.ascontiguousarray(thumb[y0:y1, x0:x1]), (x0 / n, y0 / n, x1 / n, y1 / n), frame)

    def window(self, start: float, end: float) -> Iterator[tuple[float, np.ndarray]]:
        """(time, grey thumbnail with bars cut) of every decoded frame between start and end seconds.

        Seeks to the I-frame at or before ``start`` and decodes from there (skipping B-frames where
        the stream allows, see _SKIP_BIDIR: frames come every 2-4 frames); for narrowing a moment at
        check time, so a few seconds of a long video are decoded, not the whole of it.
        """
        stream = self.stream
        tb = float(stream.time_base or Fraction(1, 90000))
        first = stream.start_time or 0
        try:
            self.container.seek(first + max(0, int(start / tb)), stream=stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            return
        errors = 0
        for packet in self.container.demux(stream):
            try:
                frames = stream.decode(packet)
            except av.error.FFmpegError:
                errors += 1
                if errors >= MAX_CONSECUTIVE_ERRORS:
                    return
                continue
            errors = 0
            for frame in frames:
                pts = frame.pts if frame.pts is not None else frame.dts
                if pts is None:
                    continue
                t = round(float((pts - first) * tb), 4)
                if t > end + 1e-6:
                    return
                if t < start - 1e-6:
                    continue
                rotation = (round((frame.rotation or 0) / 90) * 90) % 360
                thumb = _rotate(self._thumbs.reformat(frame, width=THUMB_SIDE, height=THUMB_SIDE, format="gray",
                                                      interpolation=Interpolation.AREA).to_ndarray(), rotation)
                x0, y0, x1, y1 = content_box(thumb)
                yield t, np.ascontiguousarray(thumb[y0:y1, x0:x1])

    def picture(self, sample: Sample) -> Image.Image:
        """The sample's frame as an RGB picture: displayed orientation, bars cut, longest side <= FRAME_SIDE."""
        fw, fh = self._display_size(sample.frame.width, sample.frame.height)
        cw, ch = self._content_size(fw, fh, sample.box)
        scale = min(1.0, FRAME_SIDE / max(cw, ch, 1))
        rgb = self._pictures.reformat(sample.frame, width=max(1, round(fw * scale)), height=max(1, round(fh * scale)),
                                         format="rgb24", interpolation=Interpolation.AREA).to_ndarray()
        rgb = _rotate(rgb, self._rotation)
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = sample.box
        top, left = round(y0 * h), round(x0 * w)
        crop = rgb[top:max(round(y1 * h), top + 1), left:max(round(x1 * w), left + 1)]
        return Image.fromarray(np.ascontiguousarray(crop), "RGB")

    def content_size(self, sample: Sample) -> tuple[int, int]:
        """Full-resolution displayed size of the sample's picture without its bars."""
        ctx = self.stream.codec_context
        return self._content_size(*self._display_size(ctx.width, ctx.height), sample.box)

    def _display_size(self, width: int, height: int) -> tuple[int, int]:
        """Frame size with the sample aspect ratio applied (not yet rotated)."""
        return _display_size(width, height, self.stream.sample_aspect_ratio or self.stream.codec_context.sample_aspect_ratio)

    def _content_size(self, width: int, height: int, box) -> tuple[int, int]:
        if self._rotation % 180:
            width, height = height, width
        x0, y0, x1, y1 = box
        return max(1, round(width * (x1 - x0))), max(1, round(height * (y1 - y0)))

    def _frames(self, next_time) -> Iterator[tuple[av.VideoFrame, float]]:
        """Decoded frames and their times, skipping whatever no sample needs.

        Packets are read ahead within a GOP: when the next I-frame arrives within KEY_ONLY_GAP,
        the GOP's other packets are dropped undecoded; otherwise they are decoded (but B-frames,
        see _SKIP_BIDIR; or non-reference frames).
        ``next_time()`` is the time of the next sample wanted: an I-frame well before it is held
        back too (all-intra streams), and decoded after all if its GOP turns out to need it.
        """
        stream = self.stream
        tb = float(stream.time_base or Fraction(1, 90000))
        start = stream.start_time
        pending: list = []  # the GOP's packets not decoded (yet)
        gop_time: float | None = None
        decode_gop = True  # until the first I-frame, decode everything
        gops = key_only_gops = 0
        errors_in_row = 0
        last_packet_time = None

        previous: float | None = None  # time of the last decoded frame after an I-frame

        def decode(packet) -> Iterator[tuple[av.VideoFrame, float]]:
            nonlocal errors_in_row, start, previous
            try:
                frames = stream.decode(packet)
            except av.error.FFmpegError:
                self.decode_errors += 1
                errors_in_row += 1
                if errors_in_row >= MAX_CONSECUTIVE_ERRORS:
                    raise MediaError(self.name, f"corrupt video stream ({stream.codec_context.name}): "
                                                f"{errors_in_row} packets in a row cannot be decoded") from None
                return
            errors_in_row = 0
            for frame in frames:
                pts = frame.pts if frame.pts is not None else frame.dts
                if pts is None:
                    continue
                if start is None:
                    start = pts
                t = round(float((pts - start) * tb), 4)
                if frame.key_frame or frame.pict_type == PictureType.I:
                    previous = None
                else:
                    if previous is not None and t - previous > BIDIR_MAX_GAP and stream.codec_context.skip_frame == "BIDIR":
                        stream.codec_context.skip_frame = "NONREF"  # B-frames are most of this stream
                    previous = t
                self.last_time = max(self.last_time, t)
                yield frame, t

        try:
            for packet in self.container.demux(stream):
                if packet.size == 0:
                    continue  # the flush packet at the end: handled below
                stamp = packet.pts if packet.pts is not None else packet.dts
                t = float((stamp - (start or 0)) * tb) if stamp is not None else None
                if t is not None:
                    last_packet_time = t if last_packet_time is None else max(last_packet_time, t)
                if packet.is_keyframe:
                    if not decode_gop and gop_time is not None:
                        key_only_gops += 1
                    gops += 1
                    pending.clear()
                    gop_time, decode_gop = t, t is None
                    if t is not None and gops > 1 and t + 0.5 / self.sample_fps < next_time():
                        pending.append(packet)  # not needed for a sample, unless its GOP is
                        continue
                    yield from decode(packet)
                elif decode_gop or gop_time is None:
                    yield from decode(packet)
                else:
                    pending.append(packet)
                    if t is None or t - gop_time > KEY_ONLY_GAP or len(pending) > MAX_PENDING_PACKETS:
                        decode_gop = True
                        for p in pending:
                            yield from decode(p)
                        pending.clear()
            yield from decode(None)
        except av.error.FFmpegError as exc:
            raise MediaError(self.name, f"corrupt or truncated video: {_short(exc)}") from None
        self.key_only_share = key_only_gops / gops if gops else 0.0
        self._check_complete(last_packet_time)

    def _check_complete(self, last_packet_time: float | None) -> None:
        s = self.stream
        declared = float(s.duration * s.time_base) if s.duration and s.time_base else None
        if declared is None and self.container.duration:
            declared = self.container.duration / av.time_base
        end = max(self.last_time, last_packet_time or 0.0)
        if declared and declared - end > TRUNCATION_SLACK_S and end < TRUNCATION_SHARE * declared:
            raise MediaError(self.name, f"truncated: the video stops at {timecode(end)} of a declared {timecode(declared)}")


def _display_size(width: int, height: int, sar) -> tuple[int, int]:
    if sar and sar > 0 and sar != 1:
        return max(1, round(width * float(sar))), height
    return width, height


def _rotate(array: np.ndarray, degrees: int) -> np.ndarray:
    k = (degrees // 90) % 4
    return np.rot90(array, k) if k else array


def _tags(metadata) -> dict:
    out = {}
    for key, value in dict(metadata or {}).items():
        text = str(value)
        out[str(key)[:64]] = text if len(text) <= _MAX_TAG else text[:_MAX_TAG] + "..."
    return out


def _parse_time(text: str | None) -> datetime | None:
    """A container's creation time (ISO 8601, UTC by the MP4/MKV specifications) or None.

    Encoders write 0 (1904-01-01 in MP4, 1970-01-01 elsewhere) when they do not know: dropped.
    """
    if not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        try:
            when = datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone(timezone.utc)
    return None if when.year <= 1970 else when


def _short(exc: BaseException) -> str:
    """An exception's message, without the file name FFmpeg appends (the MediaError names it)."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


def timecode(seconds: float | None) -> str:
    """HH:MM:SS.s, as a player shows a moment of a video."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    tenths = int(round(max(seconds, 0.0) * 10))
    s, t = divmod(tenths, 10)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{t}"


# --- keyframes ------------------------------------------------------------------------------

class KeyframePolicy:
    """Decides, sample by sample, which samples become keyframes and why.

    Reasons: "start" (the first informative sample), "cut" (a shot change), "change" (the picture
    moved DRIFT_DISTANCE away from the last keyframe), "interval" (MAX_GAP without one). A sample
    whose PDQ quality is too low to match on (black, a fade, a flat title) is never a keyframe:
    the decision waits for the next informative sample.
    """

    def __init__(self) -> None:
        self.last_time: float | None = None
        self.last: np.ndarray | None = None  # tiny thumbnail of the last keyframe
        self.previous: np.ndarray | None = None  # ... and of the previous informative sample (set with it)
        self.step = 0.0  # distance between the previous informative sample and the one before it
        self.pending: str | None = None

    def decide(self, t: float, small: np.ndarray, quality: int) -> str | None:
        """The reason this sample (its time, tiny thumbnail, PDQ quality) is a keyframe, or None."""
        if quality < PDQ.min_quality:
            if self.last_time is not None and self.pending is None and t - self.last_time >= MAX_GAP:
                self.pending = "interval"
            return None
        reason = None
        if self.last is None:
            reason = "start"
        else:
            from_last, from_previous = (float(d) for d in tiny_distance(small, np.stack([self.last, self.previous])))
            gap = t - self.last_time
            if from_previous > CUT_DISTANCE and from_previous > CUT_CONTRAST * self.step:
                reason = "cut"
            elif from_last > DRIFT_DISTANCE and gap >= MIN_GAP:
                reason = "change"
            elif gap >= MAX_GAP and from_last > SAME_DISTANCE:
                reason = "interval"
            elif self.pending and from_last > SAME_DISTANCE:
                reason = self.pending
        self.step = 0.0 if self.last is None else from_previous
        self.previous = small
        if reason is not None:
            self.last_time, self.last, self.pending = t, small, None
        return reason


# --- the whole file -------------------------------------------------------------------------

@dataclass
class FramePrints:
    """One keyframe: its time in the video, why it was taken, and its image fingerprints."""

    time: float
    reason: str
    prints: ImagePrints
    tiny: np.ndarray | None = None  # the sample's tiny thumbnail (TINY_SIDE x TINY_SIDE grey)


@dataclass
class VideoPrints:
    """Everything computed from one video file; small and picklable (no pixels).

    About 30 KB per keyframe (mostly the local features) and 37 bytes per track sample.
    """

    facts: VideoFacts
    keyframes: list[FramePrints]
    track: Track
    decoded_until: float = 0.0
    decode_errors: int = 0
    key_only_share: float = 0.0

    @property
    def sha256(self) -> str:
        return self.facts.sha256

    @property
    def information(self) -> float:
        """The most informative keyframe's information score (0 when there is none)."""
        return max((k.prints.information for k in self.keyframes), default=0.0)


def keyframe_prints(decoded: DecodedImage, thumb: np.ndarray, *, keep_image: bool = False) -> ImagePrints:
    """A keyframe's image fingerprints, as prints.fingerprint_image computes them, except that pHash
    and the information score come from the sample's grey thumbnail (bars cut).

    Both reduce every picture to grey first (32x32 and 128x128), so the 128-pixel thumbnail gives
    the same pHash within 0-4 bits of 64 and the same score within 0.015 (benchmark keyframes), at
    a twentieth of the cost. PDQ is not: its filters depend on the input size, and the thumbnail's
    hash lay a median 16 bits (up to 42) from the frame's, so PDQ and the local features are
    computed on the FRAME_SIDE picture, as for every image.
    """
    grey = Image.fromarray(np.ascontiguousarray(thumb), "L")
    return fingerprint_image(decoded, keep_image=keep_image, grey=grey)


def frame_key(video_sha256: str, t: float) -> str:
    """The ledger key of a keyframe item: SHA-256 of the video's SHA-256 and the millisecond."""
    return hashlib.sha256(f"{video_sha256}@{round(t * 1000)}ms".encode()).hexdigest()


def fingerprint_video(path: str | os.PathLike, *, threads: int = 0, keep_images: bool = False,
                      mirrored: bool = True) -> VideoPrints:
    """Hash, decode and fingerprint a video file as one stream; MediaError when it cannot be used.

    ``mirrored`` also hashes the mirrored samples (for matching this video as a query);
    ``keep_images`` keeps each keyframe's picture on its prints (tests, demos: costs memory).
    """
    name = str(path)
    sha, size = hash_file(path)
    times, hashes, quality, thumbs, flipped = [], [], [], [], []
    keyframes: list[FramePrints] = []
    policy = KeyframePolicy()
    with VideoDecoder(path, threads=threads) as decoder:
        for sample in decoder.samples():
            h, mirror, q = thumb_hashes(sample.thumb)
            if mirrored:
                flipped.append(mirror)
            times.append(sample.time)
            hashes.append(h)
            quality.append(q)
            small = tiny(sample.thumb)
            thumbs.append(small)
            reason = policy.decide(sample.time, small, q)
            if reason is None:
                continue
            picture = decoder.picture(sample)
            w, h_ = decoder.content_size(sample)
            decoded = DecodedImage(
                name=f"{name}@{timecode(sample.time)}",
                sha256=frame_key(sha, sample.time),
                file_size=0,
                format="frame",
                width=w,
                height=h_,
                image=picture,
                exif=ExifFacts(),
            )
            prints = keyframe_prints(decoded, sample.thumb, keep_image=keep_images)
            keyframes.append(FramePrints(sample.time, reason, prints, small))
        facts = decoder.facts(sha, size)
        if not times:
            raise MediaError(name, f"no decodable video frames ({facts.video_codec})")
        track = Track(np.asarray(times, np.float64), np.stack(hashes), np.asarray(quality, np.uint8),
                      np.stack(thumbs), np.stack(flipped) if mirrored else None)
        return VideoPrints(facts, keyframes, track, decoder.last_time, decoder.decode_errors, decoder.key_only_share)


