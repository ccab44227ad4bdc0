"""Matching with video: a still to its moment in a video, and a clip to the footage it re-uses.

Keyframes are items of kind "frame" (video.py), so the image matcher finds them like any picture.
This module turns what it finds into answers about videos:

- :meth:`VideoFrames.fold` reports a match on keyframes as a match on their **video at a
  timecode**. The moment is narrowed with the video's track (a tiny thumbnail and the PDQ hash
  of every sample, 4 a second): among the samples around the matched keyframe, the one nearest
  the query's picture, compared by video.tiny_distance (blind to what covers part of it: a
  player's controls, a logo). The evidence says which keyframe matched, its time, and how far
  from it the moment lies. When the indexed file is still where a scan saw it, unchanged, the
  seconds around the matched keyframes are decoded again and the moment is the frame nearest the
  query at 48x48 (:func:`refine_from_file`; the evidence then says "video file" and names it):
  16-pixel track thumbnails cannot place a low-contrast picture under a player's controls.
  When no image matcher finds a keyframe (out-of-focus or flat
  footage gives local features nothing to hold), the query's picture, cut out of a screenshot
  by :func:`find_picture`, is compared with every keyframe's tiny thumbnail, and the nearest
  candidates are checked on their tracks (method "thumb").
- :func:`match_video` finds the indexed videos whose footage a query video re-uses. The query's
  keyframes and track samples are looked up in the index; every hit on a keyframe of video V
  proposes a time offset between the two. Each proposal is then checked on the tracks: the
  query's samples are compared with V's samples near ``t + offset``, the offset that the most
  query samples agree with wins (a vote), and the agreeing samples form the overlapping
  segment(s). Re-encoding, scaling, letterbox bars (cut before hashing), a logo, grey or sepia
  colouring move PDQ hashes by a few bits only; trimming and cutting a clip out of a longer
  video only change the offset; a mirrored re-upload is checked with the mirrored track.
  Unrelated videos lie ~128 bits apart, and a match needs ``MIN_MATCH_SAMPLES`` samples agreeing
  on one offset, so a chance match would need several unlikely coincidences at once.

Evidence keys (JSON): a match on a video at a moment has ``timestamp_s``, ``timecode``,
``keyframe_item_id``, ``keyframe_timestamp_s``, ``from_keyframe_s``, ``timecode_basis`` ("video
file", "track" or "keyframe"; with "video file" also ``file_distance`` and ``decoded_from``, the
path decoded), and ``moments`` when the picture appears more than once. A clip match (method
"video") has ``segments`` (each with query and source start/end and offset), ``offset_s``,
``query_share``, ``matched_samples``, ``query_samples`` and ``mirrored``.
"""

from __future__ import annotations

import os
from collections import OrderedDict, defaultdict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

from .errors import MediaError
from .fingerprints import PDQ
from .video import (
    MAX_GAP,
    MIRROR_VARIANT,
    SAMPLE_FPS,
    TINY_CELLS,
    TINY_SIDE,
    Track,
    VideoDecoder,
    VideoPrints,
    narrowing_distance,
    picture_thumb,
    thumb_hashes,
    timecode,
    tiny,
    tiny_distance,
)

if TYPE_CHECKING:
    from .ledger import Ledger
    from .matcher import Match, Matcher

# --- a still's moment -------------------------------------------------------------------------
#: Largest video.tiny_distance between the query and a track sample for the sample to narrow the
#: moment; beyond it the keyframe's own time is reported. Screenshots (player controls over the
#: picture) lay within 0.04 of their moment at the median and 0.39 at worst; the nearest sample
#: of another video, 0.25 or more (benchmarks/video_bench.py). Here the keyframe has matched
#: already, so the bound is loose.
REFINE_MAX = 0.5
#: Samples within this distance of the best one are as good: the moment is the middle of their
#: run (a still shot looks the same for its whole length).
REFINE_TIE = 0.005
#: The same with PDQ hashes, when the query has no pixels at hand (bits of 256).
REFINE_MAX_BITS, REFINE_TIE_BITS = 64, 3

# --- a still's moment, from the video file ---------------------------------------------------
#: When the indexed video file is still where it was seen, unchanged (size and mtime as the scan
#: recorded them), the moment is narrowed on the frames themselves: the seconds around the matched
#: keyframes are decoded again (I- and P-frames: one every 2-4 frames) and each frame is compared
#: with the query at FILE_SIDE x FILE_SIDE, where a player's controls cover whole cells only. On the
#: benchmark the 16-pixel track put 3 of 48 screenshots 1.5-4 s off (low-contrast pictures under
#: the controls); 48-pixel frames put every found one within 0.4 s.
FILE_SIDE = 48
#: Largest distance (video.tiny_distance at FILE_SIDE) for a frame to narrow the moment: the keyframe
#: has matched already; screenshots of low-contrast pictures lay up to 0.45 from their own frame.
FILE_REFINE_MAX = 0.5
#: Seconds decoded either side of a moment the track found by thumbnail (method "thumb").
FILE_WINDOW = 1.0

# --- a still's moment, when no image matcher finds a keyframe ("thumb") ------------------------
#: Keyframes whose tiny thumbnail lies within this distance of the query's are candidates. A
#: keyframe is taken whenever the picture moves video.DRIFT_DISTANCE from the last one, so every
#: moment lies about that close to a keyframe (95% of samples within 0.25, benchmarks); edits
#: add a little. Only a shortlist: the track decides.
THUMB_CANDIDATE = 0.45
#: A candidate video matches when a track sample near its candidate keyframes lies within this
#: distance of the query. Of 48 benchmark screenshots, 85% lay within it of their moment; the
#: nearest sample of any other video lay at 0.245 or more, so a match here is never a guess.
THUMB_MATCH = 0.15
#: ... and the PDQ hash of that sample within this many bits of the query's (a second, independent
#: check): true moments lay at 34 bits at the median, other videos' nearest samples at 112 and
#: more (benchmarks/video_bench.py).
THUMB_MAX_BITS = 100
#: Candidate keyframes and videos examined per query, and keyframes re-ranked by tiny_distance
#: after a coarse pass over all of them.
THUMB_KEYFRAMES, THUMB_VIDEOS, THUMB_SHORTLIST = 32, 5, 256
#: A query region whose tiny thumbnail has less contrast than this (grey levels, standard
#: deviation) is too flat to match by thumbnail.
THUMB_MIN_CONTRAST = 6.0
#: Where a screenshot shows its picture (find_picture): pixels differing from the page colour by
#: more than these many grey levels, in a dense rectangle covering at least this share of it.
PICTURE_TOLERANCES = (16, 6, 3)
PICTURE_MIN_AREA, PICTURE_MIN_FILL = 0.12, 0.85
#: Keyframe hits further apart than this are separate moments (the picture appears twice).
MOMENT_GAP = 2 * MAX_GAP

# --- a clip's footage -----------------------------------------------------------------------
#: Largest PDQ distance between a query sample and a source sample for the pair to vote. Looser
#: than PDQ.match_threshold (31) because a clip match needs many pairs agreeing on one offset;
#: benchmarks/video_bench.py prints where true pairs (edited re-uploads) and unrelated pairs fall.
PAIR_DISTANCE = 44
#: Half-width of the offset window a vote is counted in: samples are 0.25 s apart, an I-frame-only
#: track 1 s, and moving pictures keep matching a sample or two away.
OFFSET_TOLERANCE = 0.6
#: Source samples considered around each proposed offset (seconds either side).
BAND = MAX_GAP + 1.0
#: Fewest agreeing samples for a clip match, and for one segment of it.
MIN_MATCH_SAMPLES = 3
MIN_SEGMENT_SAMPLES = 2
#: Agreeing samples further apart than this (seconds of query) start a new segment.
SEGMENT_GAP = 3.0
#: At most this many segments per pair of videos, and candidate videos per query.
MAX_SEGMENTS = 8
MAX_CANDIDATES = 20
#: Track samples of the query looked up in the PDQ index, per second (keyframes are looked up too),
#: and how far: a hit only proposes an offset, which the tracks then confirm or not, so this is
#: looser than PDQ.match_threshold (a logo over the footage moved samples 20-35 bits).
LOOKUPS_PER_SECOND = 2.0
LOOKUP_DISTANCE = 40
#: Query keyframes at cuts whose thumbnails are looked up among all keyframes, at most.
THUMB_PROPOSALS = 60
#: Tracks kept in memory between queries.
TRACK_CACHE = 16


def _hex(packed: np.ndarray) -> str:
    return packed.tobytes().hex()


def _unhex(value: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(value), np.uint8)


def _popcount(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1, dtype=np.int32)


# --- keyframes known to a matcher -------------------------------------------------------------

class VideoFrames:
    """What a matcher knows about keyframe items: their video, their moment, the video's track."""

    def __init__(self, ledger: "Ledger"):
        self.ledger = ledger
        self._tracks: OrderedDict[int, Track | None] = OrderedDict()
        self._any: bool | None = None
        self._thumbs: _ThumbIndex | None = None
        self._files: dict[int, str | None] = {}

    def any(self) -> bool:
        """Whether the ledger holds any keyframe (no lookups at all for an image-only ledger)."""
        if self._any is None:
            self._any = self.ledger.has_frames()
        return self._any

    def added(self, video_id: int, frames: list[tuple[int, float, np.ndarray | None]]) -> None:
        """A video was recorded with these keyframes (item, moment, tiny thumbnail)."""
        self._any = True
        if self._thumbs is not None:
            self._thumbs.add([(f, video_id, t, small) for f, t, small in frames if small is not None])

    def thumbs(self) -> "_ThumbIndex":
        """The tiny thumbnails of every keyframe, loaded on first use."""
        if self._thumbs is None:
            self._thumbs = _ThumbIndex()
            if self.any():
                self._thumbs.add([(f, v, t, np.frombuffer(b, np.uint8).reshape(TINY_SIDE, TINY_SIDE))
                                  for f, v, t, b in self.ledger.frame_thumbs() if b and len(b) == TINY_SIDE ** 2])
        return self._thumbs

    def parents(self, item_ids) -> dict:
        """The frame rows (video, moment) of those of these items that are keyframes."""
        if not self.any():
            return {}
        return self.ledger.frames_by_item(item_ids)

    def track(self, video_id: int) -> Track | None:
        """The stored track of a video (cached)."""
        if video_id in self._tracks:
            self._tracks.move_to_end(video_id)
            return self._tracks[video_id]
        row = self.ledger.video(video_id)
        track = None
        if row is not None and row.track_algorithm == Track.ALGORITHM and row.track_version == Track.VERSION:
            try:
                track = Track.from_bytes(row.track)
            except ValueError:
                track = None
        self._tracks[video_id] = track
        if len(self._tracks) > TRACK_CACHE:
            self._tracks.popitem(last=False)
        return track

    def video_file(self, video_id: int) -> str | None:
        """A path where the video's file still is, unchanged since a scan read it (same size and
        mtime as recorded with its SHA-256), or None."""
        if video_id not in self._files:
            found = None
            for view in self.ledger.sightings([video_id]):
                if not view.path or view.path == found:
                    continue
                try:
                    st = os.stat(view.path)
                except OSError:
                    continue
                if self.ledger.known_file(view.path, st.st_size, st.st_mtime_ns) == view.sha256:
                    found = view.path
                    break
            self._files[video_id] = found
        return self._files[video_id]

    # --- a still's moment ----------------------------------------------------------------

    def fold(self, matches: list["Match"], query: "QueryView") -> list["Match"]:
        """Matches on keyframes become one match per video, at the timecode(s) of the moment."""
        from .matcher import Match

        if not self.any():
            return matches
        frames = self.parents(m.item_id for m in matches)
        out = [m for m in matches if m.item_id not in frames]
        by_video: dict[int, list[tuple[Match, float, int, str]]] = defaultdict(list)
        for m in matches:
            f = frames.get(m.item_id)
            if f is not None:
                by_video[f.video_item_id].append((m, f.timestamp_s, f.item_id, f.reason))
        for video_id, hits in by_video.items():
            moments = [self._moment(video_id, group, query) for group in _groups(hits)]
            moments.sort(key=lambda mo: _strength(mo[0]))
            best, evidence = moments[0]
            evidence = {**_geometry_of(best.evidence, evidence["from_keyframe_s"]), **evidence}
            if len(moments) > 1:
                evidence["moments"] = [ev for _, ev in moments]
            folded = Match(video_id, best.method, best.distance, evidence)
            out = [m for m in out if m.item_id != video_id or m.sort_key() < folded.sort_key()]
            if not any(m.item_id == video_id for m in out):
                out.append(folded)
        found = {m.item_id for m in out}
        out += [m for m in self._by_thumbnail(query) if m.item_id not in found]
        return sorted(out, key=lambda m: m.sort_key())

    def _by_thumbnail(self, query: "QueryView") -> list["Match"]:
        """Videos showing the query's picture found by tiny thumbnails, for pictures local
        features cannot follow (blur, fog, flat walls) and screenshots they do not find."""
        from .matcher import Match

        signature = query.signature(None)
        if not signature.tiny or query.image is None or float(signature.tiny[0].std()) < THUMB_MIN_CONTRAST:
            return []
        candidates = self.thumbs().search(signature.tiny, THUMB_CANDIDATE, THUMB_KEYFRAMES)
        by_video: dict[int, list] = defaultdict(list)
        for frame_id, video_id, t, d in candidates:
            by_video[video_id].append((d, t, frame_id))
        out = []
        for video_id, hits in sorted(by_video.items(), key=lambda kv: min(kv[1])[0])[:THUMB_VIDEOS]:
            track = self.track(video_id)
            if track is None:
                continue
            moments = []
            for group in _groups([(None, t, f, d) for d, t, f in hits]):
                times = [h[1] for h in group]
                found = refine(track, signature, min(times) - MAX_GAP, max(times) + MAX_GAP)
                if found is None or found.distance > THUMB_MATCH or (found.bits or 0) > THUMB_MAX_BITS:
                    continue
                t, distance, span = found.time, found.distance, found.span
                basis, extra = "track", {}
                path = self.video_file(video_id)
                fine = refine_from_file(path, signature, t - FILE_WINDOW, t + FILE_WINDOW) if path else None
                if fine is not None:
                    t, span, basis = fine.time, fine.span, "video file"
                    extra = {"file_distance": fine.distance, "decoded_from": path}
                key = min(group, key=lambda h: abs(h[1] - t))
                ev = {"video_item_id": video_id, "keyframe_item_id": key[2], "keyframe_timestamp_s": key[1],
                      "keyframe_timecode": timecode(key[1]), "timestamp_s": round(t, 3), "timecode": timecode(t),
                      "from_keyframe_s": round(t - key[1], 3), "timecode_basis": basis, "track_distance": distance,
                      **extra}
                if span[1] - span[0] > 0:
                    ev["range_s"] = [round(span[0], 3), round(span[1], 3)]
                moments.append((distance, ev))
            if moments:
                moments.sort(key=lambda m: m[0])
                distance, ev = moments[0]
                ev = {**ev, "threshold": THUMB_MATCH, "picture_in_query": query.picture_box}
                if len(moments) > 1:
                    ev["moments"] = [e for _, e in moments]
                out.append(Match(video_id, "thumb", distance, ev))
        return out

    def _moment(self, video_id: int, hits: list, query: "QueryView") -> tuple["Match", dict]:
        best, key_t, key_id, reason = min(hits, key=lambda h: _strength(h[0]))
        times = [h[1] for h in hits]
        track = self.track(video_id)
        signature = query.signature(best)
        start, end = min(times) - MAX_GAP, max(times) + MAX_GAP
        found = fine = None
        if track is not None:
            found = refine(track, signature, start, end, matched=True)
        path = self.video_file(video_id) if signature.thumb is not None else None
        if path:
            fine = refine_from_file(path, signature, start, end)
        evidence = {
            "video_item_id": video_id,
            "keyframe_item_id": key_id,
            "keyframe_timestamp_s": key_t,
            "keyframe_timecode": timecode(key_t),
            "keyframe_reason": reason,
        }
        if fine is not None:
            t, span = fine.time, fine.span
            evidence.update(timestamp_s=round(t, 3), timecode=timecode(t), from_keyframe_s=round(t - key_t, 3),
                            timecode_basis="video file", track_distance=found.distance if found else None,
                            file_distance=fine.distance, decoded_from=path)
            if span[1] - span[0] > 0:
                evidence["range_s"] = [round(span[0], 3), round(span[1], 3)]
        elif found is None:
            evidence.update(timestamp_s=key_t, timecode=timecode(key_t), from_keyframe_s=0.0,
                            timecode_basis="keyframe", track_distance=None)
        else:
            t, distance, span = found.time, found.distance, found.span
            evidence.update(timestamp_s=round(t, 3), timecode=timecode(t), from_keyframe_s=round(t - key_t, 3),
                            timecode_basis="track", track_distance=distance)
            if span[1] - span[0] > 0:
                evidence["range_s"] = [round(span[0], 3), round(span[1], 3)]
        return best, evidence


#: Evidence of the image matcher that describes the query against the keyframe's picture.
_GEOMETRY = ("edits", "visible_share", "visible_in_original", "quad_in_query", "homography", "correspondences",
             "mirrored", "rotation_deg", "scale", "hull_share", "transform", "also")


def _geometry_of(evidence: dict, from_keyframe: float) -> dict:
    """The image matcher's evidence for a match on a keyframe. When the moment found lies away from
    the keyframe, the geometry (crop, frame, scale...) compares the query with another moment's
    picture, not with the video at the moment: it is kept apart, under "keyframe_evidence", so
    that nothing reads it as an edit of the video's picture."""
    if abs(from_keyframe) <= 1.0 / SAMPLE_FPS:
        return evidence
    kept = {k: v for k, v in evidence.items() if k not in _GEOMETRY}
    kept["keyframe_evidence"] = {k: v for k, v in evidence.items() if k in _GEOMETRY}
    return kept


def _strength(m: "Match") -> tuple:
    """Sort key, strongest first: by method, then distance (for local features: most inliers)."""
    from .matcher import METHOD_RANK

    return (METHOD_RANK.get(m.method, 9), -(m.distance or 0) if m.method == "orb" else (m.distance or 0), m.item_id)


def _groups(hits: list) -> list[list]:
    """Keyframe hits split into moments: runs of keyframes less than MOMENT_GAP apart."""
    hits = sorted(hits, key=lambda h: h[1])
    groups = [[hits[0]]]
    for h in hits[1:]:
        if h[1] - groups[-1][-1][1] > MOMENT_GAP:
            groups.append([h])
        else:
            groups[-1].append(h)
    return groups


@dataclass
class Signature:
    """A query picture reduced the way track samples are: tiny thumbnails (as is and mirrored)
    and PDQ hashes."""

    tiny: list[np.ndarray]
    hashes: list[np.ndarray]
    thumb: np.ndarray | None = None  # the grey thumbnail itself (bars cut), for refine_from_file


@dataclass
class Moment:
    """Where a picture is in a video's track: the moment, its distance, the run of samples as near
    (a still shot looks the same for its whole length) and the PDQ distance at the best sample."""

    time: float
    distance: float
    span: tuple[float, float]
    bits: int | None


def refine(track: Track, query: Signature, start: float, end: float, *, matched: bool = False) -> Moment | None:
    """The moment of the track nearest the query between start and end; None when no sample is
    near enough to say. Tiny thumbnails are compared when both sides have them, else PDQ hashes.
    ``matched``: the query has matched a keyframe of this video already and only its moment is
    sought (video.narrowing_distance); otherwise the distance also decides the match.
    """
    window = np.flatnonzero((track.times >= start) & (track.times <= end) & track.informative)
    if not len(window):
        return None
    if query.tiny and track.thumbs is not None:
        distance = narrowing_distance if matched else tiny_distance
        dist = np.min(np.stack([distance(q, track.thumbs[window]) for q in query.tiny]), axis=0)
        limit, tie = REFINE_MAX, REFINE_TIE
    elif query.hashes:
        dist = np.min(np.stack([_popcount(track.hashes[window], h) for h in query.hashes]), axis=0).astype(float)
        limit, tie = REFINE_MAX_BITS, REFINE_TIE_BITS
    else:
        return None
    best = int(np.argmin(dist))
    if dist[best] > limit:
        return None
    lo, hi = _tied_run(dist, best, tie)
    first, last = float(track.times[window[lo]]), float(track.times[window[hi]])
    bits = min(int(_popcount(track.hashes[window[best]], h)) for h in query.hashes) if query.hashes else None
    return Moment((first + last) / 2, round(float(dist[best]), 3), (first, last), bits)


def refine_from_file(path: str, query: Signature, start: float, end: float) -> Moment | None:
    """The moment between start and end whose frame, decoded again from the video file, is nearest
    the query's picture (FILE_SIDE thumbnails, as is and mirrored); None when the file cannot be
    decoded there or no frame is within FILE_REFINE_MAX."""
    if query.thumb is None or end < 0:
        return None
    side = (FILE_SIDE, FILE_SIDE)
    plain = cv2.resize(query.thumb, side, interpolation=cv2.INTER_AREA)
    wanted = [plain, np.ascontiguousarray(plain[:, ::-1])]
    times, thumbs = [], []
    try:
        with VideoDecoder(path) as decoder:
            for t, thumb in decoder.window(max(0.0, start), end):
                times.append(t)
                thumbs.append(cv2.resize(thumb, side, interpolation=cv2.INTER_AREA))
    except MediaError:
        return None
    if not times:
        return None
    order = np.argsort(times, kind="stable")
    times_a = np.asarray(times)[order]
    stack = np.stack(thumbs)[order]
    dist = np.min(np.stack([narrowing_distance(q, stack) for q in wanted]), axis=0)
    best = int(np.argmin(dist))
    if dist[best] > FILE_REFINE_MAX:
        return None
    lo, hi = _tied_run(dist, best, REFINE_TIE)
    first, last = float(times_a[lo]), float(times_a[hi])
    return Moment((first + last) / 2, round(float(dist[best]), 3), (first, last), None)


def _tied_run(dist: np.ndarray, best: int, tie: float) -> tuple[int, int]:
    """The run of consecutive positions around ``best`` whose distance is within ``tie`` of its."""
    good = dist <= dist[best] + tie
    lo = hi = best
    while lo > 0 and good[lo - 1]:
        lo -= 1
    while hi < len(dist) - 1 and good[hi + 1]:
        hi += 1
    return lo, hi


class QueryView:
    """The query of an image match, for finding and narrowing a moment.

    Its pixels when at hand, cut to where the picture is: the rectangle find_picture() sees in a
    screenshot, else where the local-feature stage found the keyframe, else the whole image; its
    PDQ hashes otherwise.
    """

    def __init__(self, image: Image.Image | None, original_size: tuple[int, int] | None, pdq_variants: list[str]):
        self.image = image
        self.original_size = original_size
        self.pdq_variants = pdq_variants
        self._picture: tuple[int, int, int, int] | None | bool = False  # False: not looked for yet
        self._signatures: dict = {}

    @property
    def picture_box(self) -> list[int] | None:
        """Where the picture is in the query image (working-image pixels), if it is not all picture."""
        if self._picture is False:
            self._picture = find_picture(self.image) if self.image is not None else None
        return list(self._picture) if self._picture else None

    def signature(self, m: "Match | None") -> Signature:
        """The query's signature for comparing with a video's samples (``m``: the match found)."""
        if self.image is None:
            return Signature([], [_unhex(v) for i, v in enumerate(self.pdq_variants) if i in (0, MIRROR_VARIANT)])
        box = self.picture_box
        quad = m.evidence.get("quad_in_query") if m is not None and m.method == "orb" else None
        if box is None and quad and self.original_size:
            sx = self.image.width / max(self.original_size[0], 1)
            sy = self.image.height / max(self.original_size[1], 1)
            xs, ys = [p[0] * sx for p in quad], [p[1] * sy for p in quad]
            box = [max(0, int(min(xs))), max(0, int(min(ys))), min(self.image.width, int(max(xs)) + 1),
                   min(self.image.height, int(max(ys)) + 1)]
            # A keyframe's outline is where *that* moment's picture lies: near the whole image, the
            # query is all picture and cutting it to the outline would pull the moment towards the
            # keyframe's. Only a picture set small inside something else is cut to it.
            area = (box[2] - box[0]) * (box[3] - box[1])
            if box[2] - box[0] < 16 or box[3] - box[1] < 16 or area > 0.7 * self.image.width * self.image.height:
                box = None
        key = tuple(box) if box else None
        if key not in self._signatures:
            region = self.image.crop(key) if key else self.image
            self._signatures[key] = picture_signature(picture_thumb(region))
        return self._signatures[key]


def find_picture(image: Image.Image) -> tuple[int, int, int, int] | None:
    """Where a screenshot shows its picture: the largest dense rectangle of pixels unlike the page
    around it (a player, a post's photo). None when the image is all picture, or none is clear.

    The page colour is the median of the image's border. A picture whose edge has the page's
    colour (a white sky on a white page) is found without that edge.
    """
    rgb = image.convert("RGB")
    scale = min(1.0, 800 / max(rgb.size))
    if scale < 1.0:
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.BOX)
    px = np.asarray(rgb).astype(np.int16)
    h, w = px.shape[:2]
    border = np.concatenate([px[0], px[-1], px[:, 0], px[:, -1]])
    page = np.median(border, axis=0)
    differs = np.abs(px - page).max(axis=2)
    for tolerance in PICTURE_TOLERANCES:
        mask = cv2.morphologyEx((differs > tolerance).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        best = None
        for x, y, bw, bh, area in stats[1:n]:
            if bw * bh >= PICTURE_MIN_AREA * w * h and area >= PICTURE_MIN_FILL * bw * bh:
                if best is None or bw * bh > best[2] * best[3]:
                    best = (int(x), int(y), int(bw), int(bh))
        if best is not None:
            x, y, bw, bh = best
            if bw * bh > 0.95 * w * h:
                return None
            return (round(x / scale), round(y / scale), round((x + bw) / scale), round((y + bh) / scale))
    return None


def picture_signature(thumb: np.ndarray) -> Signature:
    """The signature of a picture's grey thumbnail (bars cut), as is and mirrored."""
    plain, mirror, _ = thumb_hashes(thumb)
    return Signature([tiny(thumb), tiny(np.ascontiguousarray(thumb[:, ::-1]))], [plain, mirror], thumb)


class _ThumbIndex:
    """Tiny thumbnails of keyframes, searched by brute force in two steps: a coarse distance on
    normalised cells (int8) ranks them all, tiny_distance() re-ranks the nearest THUMB_SHORTLIST.
    512 bytes a keyframe in memory."""

    def __init__(self) -> None:
        self.frames = np.zeros(0, np.int64)
        self.videos = np.zeros(0, np.int64)
        self.times = np.zeros(0, np.float64)
        self.cells = np.zeros((0, TINY_SIDE * TINY_SIDE), np.int8)
        self.thumbs = np.zeros((0, TINY_SIDE, TINY_SIDE), np.uint8)

    def __len__(self) -> int:
        return len(self.frames)

    def add(self, rows: list[tuple[int, int, float, np.ndarray]]) -> None:
        if not rows:
            return
        thumbs = np.stack([r[3] for r in rows]).astype(np.uint8)
        self.frames = np.concatenate([self.frames, [r[0] for r in rows]])
        self.videos = np.concatenate([self.videos, [r[1] for r in rows]])
        self.times = np.concatenate([self.times, [r[2] for r in rows]])
        self.cells = np.concatenate([self.cells, _quantised(thumbs.astype(np.float32))])
        self.thumbs = np.concatenate([self.thumbs, thumbs])

    def search(self, queries: list[np.ndarray], within: float, limit: int) -> list[tuple[int, int, float, float]]:
        """(frame, video, moment, distance) of the nearest keyframes within ``within``, nearest first."""
        if not len(self) or not queries:
            return []
        keep = max(1, int(self.cells.shape[1] * TINY_CELLS))
        coarse = np.full(len(self), np.inf, np.float32)
        for q in _quantised(np.stack(queries).astype(np.float32)).astype(np.int16):
            for start in range(0, len(self), 20000):
                diff = np.abs(self.cells[start:start + 20000].astype(np.int16) - q)
                part = np.partition(diff, keep - 1, axis=1)[:, :keep].sum(axis=1) / (keep * _QUANT)
                coarse[start:start + 20000] = np.minimum(coarse[start:start + 20000], part)
        shortlist = np.argsort(coarse, kind="stable")[:THUMB_SHORTLIST]
        fine = np.min(np.stack([tiny_distance(q, self.thumbs[shortlist]) for q in queries]), axis=0)
        order = np.argsort(fine, kind="stable")[:limit]
        return [(int(self.frames[shortlist[i]]), int(self.videos[shortlist[i]]), float(self.times[shortlist[i]]),
                 float(fine[i])) for i in order if fine[i] <= within]


_QUANT = 24.0  # normalised cell values are kept as int8 in steps of 1/24 (|z| < 5.3)


def _quantised(thumbs: np.ndarray) -> np.ndarray:
    z = (thumbs - thumbs.mean(axis=(1, 2), keepdims=True)) / (thumbs.std(axis=(1, 2), keepdims=True) + 4.0)
    return np.clip(np.round(z * _QUANT), -127, 127).astype(np.int8).reshape(len(thumbs), -1)


# --- a clip's footage -------------------------------------------------------------------------

@dataclass
class Segment:
    """A stretch of the query that shows a stretch of the source: source time = query time + offset."""

    query_start_s: float
    query_end_s: float
    source_start_s: float
    source_end_s: float
    offset_s: float
    samples: int
    mean_distance: float

    def to_dict(self) -> dict:
        out = asdict(self)
        out["query"] = f"{timecode(self.query_start_s)}-{timecode(self.query_end_s)}"
        out["source"] = f"{timecode(self.source_start_s)}-{timecode(self.source_end_s)}"
        return out


@dataclass
class ClipMatch:
    """Footage of a source video found in a query video: the segments and how much of the query."""

    item_id: int
    segments: list[Segment]
    matched_samples: int
    query_samples: int
    query_share: float
    mirrored: bool

    @property
    def mean_distance(self) -> float:
        total = sum(s.samples for s in self.segments)
        return sum(s.mean_distance * s.samples for s in self.segments) / total if total else 0.0

    def to_match(self) -> "Match":
        from .matcher import Match

        main = max(self.segments, key=lambda s: (s.query_end_s - s.query_start_s, s.samples))
        evidence = {
            "offset_s": main.offset_s,
            "query_start_s": main.query_start_s,
            "query_end_s": main.query_end_s,
            "source_start_s": main.source_start_s,
            "source_end_s": main.source_end_s,
            "timestamp_s": main.source_start_s,
            "timecode": timecode(main.source_start_s),
            "query_share": round(self.query_share, 3),
            "matched_samples": self.matched_samples,
            "query_samples": self.query_samples,
            "mirrored": self.mirrored,
            "pair_threshold": PAIR_DISTANCE,
            "bits": PDQ.bits,
            "segments": [s.to_dict() for s in sorted(self.segments, key=lambda s: s.query_start_s)],
            "edits": ["mirrored"] if self.mirrored else [],
        }
        return Match(self.item_id, "video", round(self.mean_distance, 2), evidence)


def align(query: Track, source: Track, offsets: list[float], item_id: int = 0,
          query_duration: float | None = None) -> ClipMatch | None:
    """The footage of ``source`` that ``query`` shows, checked around the proposed offsets."""
    qi = np.flatnonzero(query.informative)
    si = np.flatnonzero(source.informative)
    if len(qi) < MIN_MATCH_SAMPLES or not len(si) or not offsets:
        return None
    qt, st = query.times[qi], source.times[si]
    sh = source.hashes[si]
    hints = np.unique(np.round(np.asarray(offsets, np.float64) * 2) / 2)
    best: tuple[int, list[Segment], bool] | None = None
    variants = [(query.hashes[qi], False)]
    if query.mirrored is not None and len(query.mirrored):
        variants.append((query.mirrored[qi], True))
    for qh, mirrored in variants:
        pi, pj, pd = _band_pairs(qt, qh, st, sh, hints)
        segments = _segments(qt, st, pi, pj, pd)
        matched = sum(s.samples for s in segments)
        if segments and (best is None or matched > best[0]):
            best = (matched, segments, mirrored)
    if best is None or best[0] < MIN_MATCH_SAMPLES:
        return None
    matched, segments, mirrored = best
    period = _period(query.times)
    duration = query_duration or (float(query.times[-1]) + period if len(query.times) else 0.0)
    covered = sum(s.query_end_s - s.query_start_s + period for s in segments)
    share = min(1.0, covered / duration) if duration > 0 else 0.0
    return ClipMatch(item_id, segments, matched, len(qi), share, mirrored)


def _period(times: np.ndarray) -> float:
    if len(times) < 2:
        return 1.0 / SAMPLE_FPS
    return float(np.median(np.diff(times)))


def _band_pairs(qt, qh, st, sh, hints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (query sample, source sample, distance) within BAND of a proposed offset and within
    PAIR_DISTANCE bits."""
    pairs = set()
    for h in hints[:64]:
        lo = np.searchsorted(st, qt + h - BAND, side="left")
        hi = np.searchsorted(st, qt + h + BAND, side="right")
        counts = hi - lo
        total = int(counts.sum())
        if not total:
            continue
        i = np.repeat(np.arange(len(qt)), counts)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        j = np.repeat(lo, counts) + (np.arange(total) - starts)
        pairs.update(zip(i.tolist(), j.tolist()))
    if not pairs:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    arr = np.array(sorted(pairs), dtype=np.int64)
    i, j = arr[:, 0], arr[:, 1]
    d = _popcount(qh[i], sh[j])
    keep = d <= PAIR_DISTANCE
    return i[keep], j[keep], d[keep]


def _segments(qt, st, pi, pj, pd) -> list[Segment]:
    """Segments found by voting: the offset most query samples agree on, its runs, then again
    without those samples, up to MAX_SEGMENTS."""
    segments: list[Segment] = []
    alive = np.ones(len(pi), bool)
    while len(segments) < MAX_SEGMENTS and alive.sum() >= MIN_SEGMENT_SAMPLES:
        idx = np.flatnonzero(alive)
        offset, support = _vote(qt, st, pi[idx], pj[idx], pd[idx])
        if len(support) < MIN_SEGMENT_SAMPLES:
            break
        samples = sorted(support)  # query sample indices
        runs, run = [], [samples[0]]
        for a in samples[1:]:
            if qt[a] - qt[run[-1]] > SEGMENT_GAP:
                runs.append(run)
                run = [a]
            else:
                run.append(a)
        runs.append(run)
        found = False
        for run in runs:
            if len(run) < MIN_SEGMENT_SAMPLES:
                continue
            q0, q1 = float(qt[run[0]]), float(qt[run[-1]])
            dists = [support[a] for a in run]
            segments.append(Segment(round(q0, 3), round(q1, 3), round(q0 + offset, 3), round(q1 + offset, 3),
                                    round(offset, 3), len(run), round(float(np.mean(dists)), 2)))
            found = True
        alive &= ~np.isin(pi, samples)
        if not found:
            break
    return segments


def _vote(qt, st, pi, pj, pd) -> tuple[float, dict[int, int]]:
    """(offset, {query sample: best distance}) for the offset window holding the most distinct
    query samples."""
    offs = st[pj] - qt[pi]
    order = np.argsort(offs, kind="stable")
    offs, pi_s, pd_s = offs[order], pi[order], pd[order]
    width = 2 * OFFSET_TOLERANCE
    counts: dict[int, int] = defaultdict(int)
    best_n, best_lo, best_hi = 0, 0, 0
    lo = 0
    for hi in range(len(offs)):
        counts[int(pi_s[hi])] += 1
        while offs[hi] - offs[lo] > width:
            key = int(pi_s[lo])
            counts[key] -= 1
            if not counts[key]:
                del counts[key]
            lo += 1
        if len(counts) > best_n:
            best_n, best_lo, best_hi = len(counts), lo, hi
    if not best_n:
        return 0.0, {}
    centre = (offs[best_lo] + offs[best_hi]) / 2
    chosen: dict[int, tuple[int, float]] = {}
    for k in range(best_lo, best_hi + 1):
        a, d, o = int(pi_s[k]), int(pd_s[k]), float(offs[k])
        if a not in chosen or (d, abs(o - centre)) < (chosen[a][0], abs(chosen[a][1] - centre)):
            chosen[a] = (d, o)
    offset = float(np.median([o for _, o in chosen.values()]))
    near = np.abs(offs - offset) <= OFFSET_TOLERANCE
    support: dict[int, int] = {}
    for a, d in zip(pi_s[near].tolist(), pd_s[near].tolist()):
        support[a] = min(d, support.get(a, 1 << 30))
    return offset, support


def match_video(matcher: "Matcher", video: VideoPrints, *, exclude: set[int] | None = None) -> list["Match"]:
    """Indexed videos whose footage ``video`` re-uses (method "video"), and indexed pictures that
    appear in it (image methods, with the moment in ``video`` as evidence), best first."""
    from .matcher import Match

    exclude = exclude or set()
    frames_known = matcher.videos
    raw: list[tuple[float, Match, bool]] = []  # (moment in the query, match, found by a track sample)
    # Keyframes go through every image stage; track samples (LOOKUPS_PER_SECOND) through PDQ, which
    # finds the moments between keyframes that a still shows.
    for kf in video.keyframes:
        for m in matcher.match(kf.prints, image=None, exclude=exclude, fold_frames=False):
            raw.append((kf.time, m, False))
    track = video.track
    if len(track):
        step = max(1, int(round(1.0 / (LOOKUPS_PER_SECOND * _period(track.times)))))
        times, hits = [], []
        for k in np.flatnonzero(track.informative)[::step]:
            queries = [_hex(track.hashes[k])] + ([_hex(track.mirrored[k])] if track.mirrored is not None else [])
            for hit in matcher.pdq.search(queries, LOOKUP_DISTANCE):
                times.append(float(track.times[k]))
                hits.append(Match(hit.item_id, "pdq", float(hit.distance),
                                  {"threshold": PDQ.match_threshold, "bits": PDQ.bits, "found_by": "track sample"}))
        raw.extend((t, m, True) for t, m in zip(times, matcher.wholes(hits)) if m is not None)  # parts: their posts
    frames = frames_known.parents({m.item_id for _, m, _ in raw})
    proposals: dict[int, list[float]] = defaultdict(list)
    stills: dict[int, list[tuple[float, Match]]] = defaultdict(list)
    for t, m, from_track in raw:
        f = frames.get(m.item_id)
        if f is None:
            # a still must meet the image matcher's own threshold; a keyframe only proposes
            if m.item_id not in exclude and (not from_track or m.distance <= PDQ.match_threshold):
                stills[m.item_id].append((t, m))
        elif f.video_item_id not in exclude:
            proposals[f.video_item_id].append(f.timestamp_s - t)
    # Thumbnails propose too (a logo or caption over the footage moves PDQ, not them): the query's
    # keyframes at cuts against every indexed keyframe.
    if frames_known.any():
        at_cuts = [k for k in video.keyframes if k.reason in ("start", "cut") and k.tiny is not None]
        for kf in at_cuts[:THUMB_PROPOSALS]:
            flipped = np.ascontiguousarray(kf.tiny[:, ::-1])
            for _frame, video_id, t, _d in frames_known.thumbs().search([kf.tiny, flipped], THUMB_CANDIDATE, 4):
                if video_id not in exclude:
                    proposals[video_id].append(t - kf.time)
    results: list[Match] = []
    ranked = sorted(proposals.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:MAX_CANDIDATES]
    for video_id, offsets in ranked:
        source = frames_known.track(video_id)
        if source is None:
            continue
        clip = align(track, source, offsets, video_id, video.facts.duration_s)
        if clip is not None:
            results.append(clip.to_match())
    for item_id, hits in stills.items():
        results.append(_still_in_video(item_id, hits, track, matcher))
    return sorted(results, key=lambda m: m.sort_key())


def _still_in_video(item_id: int, hits: list[tuple[float, "Match"]], track: Track, matcher: "Matcher") -> "Match":
    """An indexed picture found at keyframes of the query video, at its moment(s) in it."""
    from .matcher import Match

    part = hits[0][1].evidence.get("part")  # found through the picture framed in it: that picture's
    signature = _stored_signature(matcher.ledger, part["item_id"] if part else item_id)
    moments = []
    for group in _groups([(m, t, None, None) for t, m in hits]):
        best, key_t = min(((h[0], h[1]) for h in group), key=lambda x: _strength(x[0]))
        found = refine(track, signature, group[0][1] - MAX_GAP, group[-1][1] + MAX_GAP, matched=True)
        t = found.time if found else key_t
        moments.append((best, {"timestamp_s": round(t, 3), "timecode": timecode(t),
                               "keyframe_timestamp_s": key_t, "from_keyframe_s": round(t - key_t, 3),
                               "timecode_basis": "track" if found else "keyframe",
                               "track_distance": found.distance if found else None}))
    moments.sort(key=lambda mo: _strength(mo[0]))
    best, evidence = moments[0]
    evidence = {**best.evidence, **evidence, "in_video": "query"}
    if len(moments) > 1:
        evidence["moments"] = [ev for _, ev in moments]
    return Match(item_id, best.method, best.distance, evidence)


def _stored_signature(ledger: "Ledger", item_id: int) -> Signature:
    """An indexed picture's signature, from the grey template its local features keep (128 px),
    else from its PDQ hash."""
    from . import local_features

    blob = ledger.local_features(item_id, local_features.ALGORITHM, local_features.VERSION)
    if blob is not None:
        try:
            template = local_features.LocalFeatures.from_bytes(blob).template
            return picture_signature(picture_thumb(Image.fromarray(template)))
        except ValueError:
            pass
    value = ledger.fingerprint_value(item_id, PDQ.name, PDQ.version)
    return Signature([], [_unhex(value)] if value else [])


# --- recording --------------------------------------------------------------------------------

def record_video(ledger: "Ledger", matcher: "Matcher", video: VideoPrints):
    """Add a video to the ledger, find what it re-uses, make its keyframes findable.

    Returns (video item, newly created, matches to link it to); a known video matches nothing.
    """
    item, created = ledger.add_video(video)
    if not created:
        return item, False, []
    matches = match_video(matcher, video, exclude={item.id})
    added = []
    for frame, kf in zip(ledger.frames_of(item.id), sorted(video.keyframes, key=lambda k: k.time)):
        matcher.add(frame.item_id, kf.prints)
        added.append((frame.item_id, frame.timestamp_s, kf.tiny))
    matcher.videos.added(item.id, added)
    return item, True, matches
