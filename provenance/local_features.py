"""Local (keypoint) features of an image, for finding partial re-publications.

Global hashes (PDQ, pHash) see the whole picture; they fail once the picture is
cropped, framed inside a screenshot, overlaid or photographed off a screen.
Local features survive those edits: ORB keypoints (corners) with 256-bit binary
descriptors, located on a grayscale working copy of bounded size.

A `LocalFeatures` also carries what the second, independent verification step
needs (see `local_match`): a small grayscale template of the whole picture and
a tiny colour thumbnail.  Everything round-trips through a compact versioned
byte string (`to_bytes` / `from_bytes`), without pickle.

Why ORB: on this 2-core machine ORB takes ~12 ms on a 640 px image, SIFT
~165 ms (over the 100 ms extraction budget), and OpenCV 5 has no AKAZE in its
main module.  Binary descriptors also let faiss index them cheaply.  Whole
extraction of an indexed photo (0.1-2 MP, decode excluded) measured 23 ms
median (49 ms while the machine was shared with other heavy jobs).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

ALGORITHM = "orb"
VERSION = "2"

# Working copy for indexed originals: longest side in pixels.  640 px keeps
# extraction near 25 ms and leaves detail for 50 % crops and 40 % downscales.
INDEX_MAX_SIDE = 640
# Keypoints kept per indexed image: 400 x (32 B descriptor + 4 B position)
# = 14.4 KB, which with the template keeps a blob near 25 KB.
INDEX_FEATURES = 400
# Queries can be 1080x2400 phone screenshots in which the picture fills only part of the canvas:
# their working copy is bounded by AREA (QUERY_MAX_PIXELS, not by side) so that a picture inside a
# tall screenshot keeps ~600 px of width, and they detect more keypoints (QUERY_FEATURES), because
# text, avatars and buttons compete for them.
#
# A query that matches nothing at that size is looked at again at the index's scale
# (local_match.search, second_look): its SHORT side scaled to QUERY_SHORT_SIDE; a query whose short
# side is under that is upscaled (bicubic) only until its long side is INDEX_MAX_SIDE, at most
# QUERY_MAX_UPSCALE times.  A 50% crop at
# full resolution puts the query's corners at ~2x the scale at which the index saw the original,
# where few of them meet the original's; a crop shrunk to 60% or a 40% resize has too few corners.
# Tune half (66 photos x 15 edits, 1,000 items, benchmarks/match_quality.py), with the second look
# against without: crop 50% 55 -> 61 of 66, crop+logo+recompress 61 -> 66, crop 80% 64 -> 66, 40%
# resize 65 -> 66, photo of a screen 64 -> 65, all 0.979 -> 0.994, no false match in 2,000.  Used
# as the only scale, a short side of 600 lost photos of screens (62 of 66, against 65 at 650) and
# 700-800 lost 50% crops (59 and 54, against 61); and on the report half it made a repetitive
# facade match its neighbouring tiles (2 queries), which the first look does not: hence a second
# look, not a replacement.
QUERY_SHORT_SIDE = 650
QUERY_MAX_UPSCALE = 3.0
# A query that still matched nothing is looked at once more at the scale of a CROP (local_match.search,
# crop look): its LONG side scaled to QUERY_CROP_SIDE, where the index saw that part of the original
# when the query shows 50-80% of the original's area (453-572 px of a 640-px original; 512 is their
# geometric mean). The second look, which scales the short side to 650, put a portrait crop at ~2x
# the index's scale (a 700x1100 crop at 650x1020, or not at all when within 10% of its first look).
# Tune half, benchmarks/more_seeds.py (5 more of each hard kind per photograph): of the 21 crops to
# 50% still missed, 15 verify at a long side of 500 or 520, 14 at 450 or 540, 10 at 640, 4 at 900;
# also 1 of 1 missed crop+logo+recompress and 2 of 3 photos of a screen at 540.
QUERY_CROP_SIDE = 512
QUERY_MAX_PIXELS = 1000 * 1000
QUERY_MAX_SIDE = 1600
QUERY_FEATURES = 1500
# Verification template (grayscale) longest side and colour thumbnail side.
TEMPLATE_MAX_SIDE = 128
COLOUR_MAX_SIDE = 16

# Spatial spread: keypoints are chosen per cell of a GRID x GRID partition so
# that any crop keeps its share of them (ORB alone piles them on text/edges).
GRID = 8
# Corners detected before the spatial selection, as a multiple of those kept
# (see _detect_spread).
DETECT_OVERSAMPLE = 25
# ORB's FAST threshold; 10 (below OpenCV's 20) so that low-contrast pictures
# (photographed screens, faded scans) still yield keypoints.
FAST_THRESHOLD = 10
# Smooth pictures (bokeh, fog, painted walls, dark skies) give few corners at
# FAST_THRESHOLD.  A grid cell is "scarce" when it holds fewer than
# SCARCE_SHARE of its even share of the keypoint budget; when at least
# SCARCE_CELLS of the cells are scarce, a second detection at
# FAST_FALLBACK_THRESHOLD fills the scarce cells (textured cells keep exactly
# their strong corners).  Tune half, verification of the 12 photos with the
# fewest corners under 10 kinds of edit: 183/240 verified at threshold 10,
# 211 with a fallback at 5, 229 at 3.  Those 12 photos have >= 0.73 of their
# cells scarce, the median tune photo 0.4; the second detection costs
# ~50 ms, so only pictures that are mostly smooth pay it.
FAST_FALLBACK_THRESHOLD = 3
SCARCE_SHARE = 0.5
SCARCE_CELLS = 0.5
# Queries frame the picture among text and interface (screenshots), which
# keep their cells busy: a quarter of scarce cells triggers the fallback
# (tune: the 12 photos' screenshots 20/24 verified at 0.5, 24/24 at 0.25).
QUERY_SCARCE_CELLS = 0.25

# Keypoint positions are stored as uint16 fixed point with this many steps per
# working pixel (1/8 px), valid for working sides below 8192 px.
_POSITION_STEPS = 8
_MAGIC = b"PLF"
_FORMAT = 1
# magic, format, version string length, original w/h, working w/h,
# n keypoints, template w/h, colour w/h, compressed template length
_HEADER = struct.Struct("<3sBB IIHH I HH BB I")


@dataclass
class LocalFeatures:
    """Keypoints, descriptors and verification thumbnails of one image.

    `points` are in WORKING-image pixels (the working copy is `working_size`);
    `points_original()` gives them in the original's pixels.  `template` is a
    small grayscale copy of the whole image (longest side TEMPLATE_MAX_SIDE)
    and `colour` a tiny RGB copy, both for the verification step.  `working`
    (grayscale) and `working_colour` (RGB) are the working image itself, and
    `keypoints` the OpenCV keypoints and `pyramid` the working image halved
    repeatedly (cv2.pyrDown, for resampling it small), kept only for queries
    (`extract(..., keep_working=True)`), never serialised; nor are `cells` and `bursts`.
    """

    original_size: tuple[int, int]
    working_size: tuple[int, int]
    points: np.ndarray  # float32 (n, 2), x/y in working pixels
    descriptors: np.ndarray  # uint8 (n, 32)
    template: np.ndarray  # uint8 (h, w) grayscale
    colour: np.ndarray  # uint8 (h, w, 3) RGB
    version: str = f"{ALGORITHM}-{VERSION}"
    working: np.ndarray | None = field(default=None, repr=False, compare=False)
    working_colour: np.ndarray | None = field(default=None, repr=False, compare=False)
    keypoints: list | None = field(default=None, repr=False, compare=False)
    pyramid: list | None = field(default=None, repr=False, compare=False)
    #: Top-level vocabulary cell of each descriptor, filled by local_index.rerank when it first
    #: needs them (an item comes up in several looks and, through a loader's cache, many queries).
    cells: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: Burst weight of each descriptor (local_index.burst_weights), filled when a look first needs
    #: them: both the words' vote and the re-rank of that look weigh its descriptors so.
    bursts: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: How many of the keypoints are weak corners (FAST_FALLBACK_THRESHOLD) of scarce cells; known
    #: only for features just extracted (0 once serialised).
    weak_corners: int = field(default=0, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @property
    def scale(self) -> tuple[float, float]:
        """Original pixels per working pixel, along x and y."""
        return (
            self.original_size[0] / self.working_size[0],
            self.original_size[1] / self.working_size[1],
        )

    def points_original(self) -> np.ndarray:
        """Keypoint positions in the original image's pixel coordinates."""
        sx, sy = self.scale
        return self.points * np.array([sx, sy], dtype=np.float32)

    def to_bytes(self) -> bytes:
        """Serialise compactly: a fixed header then raw numpy buffers.

        Positions become 1/8-px uint16 in working pixels; the template is
        zlib-compressed.  `from_bytes(to_bytes(f))` reproduces every stored
        array exactly (positions are already on the 1/8-px grid).
        """
        version = self.version.encode("ascii")
        positions = np.round(self.points * _POSITION_STEPS).astype("<u2")
        template = zlib.compress(np.ascontiguousarray(self.template).tobytes(), 6)
        header = _HEADER.pack(
            _MAGIC, _FORMAT, len(version),
            self.original_size[0], self.original_size[1],
            self.working_size[0], self.working_size[1],
            len(self),
            self.template.shape[1], self.template.shape[0],
            self.colour.shape[1], self.colour.shape[0],
            len(template),
        )
        return b"".join([
            header, version, positions.tobytes(),
            np.ascontiguousarray(self.descriptors, dtype=np.uint8).tobytes(),
            template, np.ascontiguousarray(self.colour, dtype=np.uint8).tobytes(),
        ])

    @classmethod
    def from_bytes(cls, blob: bytes) -> "LocalFeatures":
        """Inverse of `to_bytes`; raises ValueError on a foreign or corrupt blob."""
        if len(blob) < _HEADER.size:
            raise ValueError("local features blob too short")
        (magic, fmt, version_len, ow, oh, ww, wh, n, tw, th, cw, ch,
         template_len) = _HEADER.unpack_from(blob, 0)
        if magic != _MAGIC or fmt != _FORMAT:
            raise ValueError("not a local features blob of a known format")
        offset = _HEADER.size

        def take(size: int) -> bytes:
            nonlocal offset
            chunk = blob[offset:offset + size]
            if len(chunk) != size:
                raise ValueError("local features blob truncated")
            offset += size
            return chunk

        version = take(version_len).decode("ascii")
        positions = np.frombuffer(take(4 * n), dtype="<u2").reshape(n, 2)
        descriptors = np.frombuffer(take(32 * n), dtype=np.uint8).reshape(n, 32)
        template = np.frombuffer(zlib.decompress(take(template_len)), dtype=np.uint8)
        colour = np.frombuffer(take(cw * ch * 3), dtype=np.uint8)
        if offset != len(blob) or template.size != tw * th:
            raise ValueError("local features blob has inconsistent sizes")
        return cls(
            original_size=(ow, oh),
            working_size=(ww, wh),
            points=positions.astype(np.float32) / _POSITION_STEPS,
            descriptors=descriptors.copy(),
            template=template.reshape(th, tw).copy(),
            colour=colour.reshape(ch, cw, 3).copy(),
            version=version,
        )


def extract(
    image: Image.Image,
    original_size: tuple[int, int] | None = None,
    *,
    for_query: bool = False,
    keep_working: bool = False,
    at_index_scale: bool = False,
    at_crop_scale: bool = False,
    weak_corners: bool = True,
) -> LocalFeatures:
    """Compute the local features of an RGB, EXIF-oriented PIL image.

    `original_size` is the (w, h) of the original when `image` is a reduced
    copy of it, so that coordinates are expressed in the original's pixels.
    `for_query=True` uses the larger query working size and keypoint budget
    (see QUERY_MAX_PIXELS), and with `at_index_scale=True` the query working
    size of the second look (see QUERY_SHORT_SIDE), with `at_crop_scale=True` that of the crop look
    (see QUERY_CROP_SIDE); `keep_working=True` keeps
    the working images on the result for verification and mirroring (queries;
    never serialised). `weak_corners=False` keeps only the strong corners
    (FAST_THRESHOLD) even where cells are scarce: the strong-corner look at a noisy query
    (local_match.search).
    """
    if original_size is None:
        original_size = image.size
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    small = _resize(rgb, working_size(rgb.size, for_query, at_index_scale, at_crop_scale))
    return _from_working(
        small, (int(original_size[0]), int(original_size[1])),
        QUERY_FEATURES if for_query else INDEX_FEATURES, keep_working, for_query, weak_corners,
    )


def extract_mirrored(features: LocalFeatures) -> LocalFeatures:
    """Query features of the left-right mirror of a query extracted with keep_working.

    ORB descriptors are not mirror-invariant, so a mirrored re-publication is
    found by describing the mirrored query again (positions are then in the
    mirrored image's frame).  Corner detection is mirror-symmetric, so the
    query's keypoints are mirrored (x -> w-1-x, angle -> 180-angle) and only
    described again: ~5 ms instead of a second detection.
    """
    if features.working is None or features.keypoints is None:
        raise ValueError("extract_mirrored needs features extracted with keep_working=True")
    gray = np.ascontiguousarray(features.working[:, ::-1])
    colour = np.ascontiguousarray(features.working_colour[:, ::-1])
    last = gray.shape[1] - 1
    mirrored = [
        cv2.KeyPoint(last - kp.pt[0], kp.pt[1], kp.size, (180.0 - kp.angle) % 360.0,
                     kp.response, kp.octave, kp.class_id)
        for kp in features.keypoints
    ]
    keypoints, points, descriptors = _describe(gray, mirrored)
    return LocalFeatures(
        original_size=features.original_size,
        working_size=features.working_size,
        points=points,
        descriptors=descriptors,
        template=np.ascontiguousarray(features.template[:, ::-1]),
        colour=np.ascontiguousarray(features.colour[:, ::-1]),
        working=gray,
        working_colour=colour,
        keypoints=keypoints,
        pyramid=_pyramid(gray),
        weak_corners=features.weak_corners,
    )


def _from_working(
    rgb: np.ndarray, original_size: tuple[int, int], n_features: int, keep_working: bool,
    for_query: bool = False, weak_corners: bool = True,
) -> LocalFeatures:
    """Features from an RGB working image (h, w, 3 uint8)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    detected, weak = _detect_spread(gray, n_features, for_query, weak_corners)
    keypoints, points, descriptors = _describe(gray, detected)
    return LocalFeatures(
        original_size=original_size,
        working_size=(gray.shape[1], gray.shape[0]),
        points=points,
        descriptors=descriptors,
        template=_thumbnail(gray, TEMPLATE_MAX_SIDE),
        colour=_thumbnail(rgb, COLOUR_MAX_SIDE),
        working=gray if keep_working else None,
        working_colour=rgb if keep_working else None,
        keypoints=keypoints if keep_working else None,
        pyramid=_pyramid(gray) if keep_working else None,
        weak_corners=weak,
    )


def _pyramid(gray: np.ndarray) -> list[np.ndarray]:
    """The image and its successive halvings, down to ~32 px on the short side."""
    levels = [gray]
    while min(levels[-1].shape[:2]) >= 64:
        levels.append(cv2.pyrDown(levels[-1]))
    return levels


def working_size(size: tuple[int, int], for_query: bool, at_index_scale: bool = False,
                 at_crop_scale: bool = False) -> tuple[int, int]:
    """Size of the working copy: an original's bounded by side, a query's by area and side (neither
    upscaled); with `at_index_scale`, a query's scaled to the index's scale (see QUERY_SHORT_SIDE);
    with `at_crop_scale`, to the scale at which the index saw a part of an original (see
    QUERY_CROP_SIDE)."""
    w, h = size
    bound = min(QUERY_MAX_SIDE / max(w, h), (QUERY_MAX_PIXELS / (w * h)) ** 0.5)
    if not for_query:
        factor = min(1.0, INDEX_MAX_SIDE / max(w, h))
    elif at_crop_scale:
        factor = min(QUERY_CROP_SIDE / max(w, h), QUERY_MAX_UPSCALE)
    elif not at_index_scale:
        factor = min(1.0, bound)
    else:
        factor = min(QUERY_SHORT_SIDE / min(w, h), bound)
        if factor > 1.0:  # a small query: up to the index's side, where a large original was seen
            factor = min(factor, max(1.0, INDEX_MAX_SIDE / max(w, h)), QUERY_MAX_UPSCALE)
    return max(1, round(w * factor)), max(1, round(h * factor))


def _resize(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Resample quickly to an RGB array.

    Downscaling: an integer box reduction (PIL's `reduce`, fast on 50 MP)
    leaves a ratio between 0.5 and 1, which bilinear interpolation handles
    with little aliasing at a fifth of the cost of OpenCV's area resampling.
    Upscaling (small queries): bicubic.
    """
    if image.size == size:
        return np.asarray(image)
    if size[0] > image.size[0]:
        return cv2.resize(np.asarray(image), size, interpolation=cv2.INTER_CUBIC)
    factor = min(image.size[0] // size[0], image.size[1] // size[1])
    if factor >= 2:
        image = image.reduce(factor)
    return cv2.resize(np.asarray(image), size, interpolation=cv2.INTER_LINEAR)


def _thumbnail(array: np.ndarray, max_side: int) -> np.ndarray:
    """Area-averaged copy whose longest side is at most `max_side`."""
    h, w = array.shape[:2]
    factor = min(1.0, max_side / max(w, h))
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size == (w, h):
        return np.ascontiguousarray(array)
    return cv2.resize(array, size, interpolation=cv2.INTER_AREA)


def _orb(fast_threshold: int = FAST_THRESHOLD) -> cv2.ORB:
    return cv2.ORB_create(
        nfeatures=1, scaleFactor=1.2, nlevels=8, edgeThreshold=31, patchSize=31,
        fastThreshold=fast_threshold,
    )


def _detect_spread(gray: np.ndarray, n_features: int, for_query: bool = False,
                   weak_corners: bool = True) -> tuple[list[cv2.KeyPoint], int]:
    """ORB keypoints spread over the image, every grid cell's best first, and how many of them
    are weak corners.

    ORB keeps, per pyramid level, the corners with the strongest Harris score;
    text (captions, UI) has so many strong corners that a picture framed in a
    screenshot would get almost none.  So detection keeps DETECT_OVERSAMPLE
    times more corners than wanted, and the spatial selection picks from them.
    Mostly smooth pictures get weaker corners too (see FAST_FALLBACK_THRESHOLD),
    unless `weak_corners` is False.
    """
    orb = _orb()
    orb.setMaxFeatures(n_features * DETECT_OVERSAMPLE)
    keypoints = list(orb.detect(gray, None))
    strong = len(keypoints)
    if weak_corners and FAST_FALLBACK_THRESHOLD and FAST_FALLBACK_THRESHOLD < FAST_THRESHOLD:
        trigger = QUERY_SCARCE_CELLS if for_query else SCARCE_CELLS
        keypoints += _scarce_cell_corners(gray, keypoints, n_features, trigger)
    if not keypoints:
        return [], 0
    points = cv2.KeyPoint_convert(keypoints)
    response = np.fromiter((kp.response for kp in keypoints), np.float32, len(keypoints))
    keep = _spread_selection(points, response, gray.shape, n_features)
    return [keypoints[i] for i in keep], int((keep >= strong).sum())


def _cells(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Index of the GRID x GRID cell of each (x, y) point."""
    h, w = shape[:2]
    cx = np.minimum((points[:, 0] * GRID / w).astype(int), GRID - 1)
    cy = np.minimum((points[:, 1] * GRID / h).astype(int), GRID - 1)
    return cy * GRID + cx


def _scarce_cell_corners(gray: np.ndarray, keypoints: list, n_features: int,
                         trigger: float) -> list[cv2.KeyPoint]:
    """Weaker corners (FAST_FALLBACK_THRESHOLD) in the grid cells that hold too few keypoints.

    Cells whose count is below SCARCE_SHARE of an even share of the budget are scarce; when
    at least `trigger` of the cells are, they get the corners a low-threshold detection finds
    in them, and textured cells keep exactly their strong corners.
    """
    wanted = SCARCE_SHARE * n_features / (GRID * GRID)
    counts = np.zeros(GRID * GRID, np.int64)
    if keypoints:
        np.add.at(counts, _cells(cv2.KeyPoint_convert(keypoints), gray.shape), 1)
    scarce = counts < wanted
    if scarce.mean() < trigger:
        return []
    orb = _orb(FAST_FALLBACK_THRESHOLD)
    orb.setMaxFeatures(n_features * DETECT_OVERSAMPLE)
    weak = orb.detect(gray, None)
    if not weak:
        return []
    keep = scarce[_cells(cv2.KeyPoint_convert(weak), gray.shape)]
    return [kp for kp, k in zip(weak, keep) if k]


def _describe(gray: np.ndarray, keypoints: list[cv2.KeyPoint]):
    """ORB descriptors of the given keypoints: (keypoints kept, positions, descriptors).

    Positions are float32 working pixels rounded to the 1/8-px grid, so that
    they serialise exactly.
    """
    if keypoints:
        keypoints, descriptors = _orb().compute(gray, keypoints)
    if not keypoints or descriptors is None:
        return [], np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    points = np.round(cv2.KeyPoint_convert(keypoints) * _POSITION_STEPS) / _POSITION_STEPS
    return list(keypoints), points.astype(np.float32), np.ascontiguousarray(descriptors)


def _spread_selection(
    points: np.ndarray, response: np.ndarray, shape: tuple[int, ...], n: int
) -> np.ndarray:
    """Indices of up to n points: each grid cell's best first, by rank, then the rest.

    Ranking every point within its cell and taking points in order of
    (rank in cell, -response) fills every cell evenly before any cell gets a
    second helping, without a fixed per-cell quota wasting budget on empty cells.
    """
    if len(points) <= n:
        return np.argsort(-response, kind="stable")
    h, w = shape[:2]
    cx = np.minimum((points[:, 0] * GRID / w).astype(int), GRID - 1)
    cy = np.minimum((points[:, 1] * GRID / h).astype(int), GRID - 1)
    cell = cy * GRID + cx
    order = np.lexsort((-response, cell))  # by cell, best first within a cell
    sorted_cells = cell[order]
    starts = np.searchsorted(sorted_cells, sorted_cells, side="left")
    rank = np.empty(len(points), dtype=np.int64)
    rank[order] = np.arange(len(points)) - starts
    chosen = np.lexsort((-response, rank))[:n]
    return chosen
