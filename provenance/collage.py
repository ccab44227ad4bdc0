"""Find the cells of a collage: pictures set side by side, in a grid or any layout cut by gutters.

An outlet's "photo report" is often a grid of four or nine pictures in one image. Searched whole,
each picture gets only its share of the query's keypoints and is a ninth of the query's size, so
the words rank its original too low. Searched one cell at a time (local_match.search, the cell
look), each picture has the whole budget, at its own scale.

Cells are found by their gutters: thin bands of one grey level that run the whole width or height of
the part being cut (a guillotine layout: every collage made by splitting a rectangle again and
again, grids included). A band that touches the part's edge is a border or a letterbox bar, not a
gutter. A grid with no gutters, its pictures set edge to edge, is found by its seams instead: the
straight lines across the whole image where the picture breaks off, rows and columns both.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .framing import Frame

# The image is examined reduced by a whole factor to at most this longest side (a 2 px gutter of a
# 1,280 px collage stays at least a pixel wide).
SIDE = 800
# A row (or column) of the part being cut is gutter when its grey levels spread by at most
# MAX_LINE_SPREAD (the difference of the 95th and 5th percentiles: JPEG rings along the edges of
# the pictures beside it).
MAX_LINE_SPREAD = 12
# The percentiles are taken over about LINE_SAMPLES pixels of each line, evenly spaced.
LINE_SAMPLES = 200
# A gutter is at most MAX_GUTTER_SHARE of the image's side it cuts across, and a part is cut only
# where at most MAX_FLAT_LINES of its lines between its first and last line of picture are flat:
# in a collage only its gutters are, while a night sky makes flat lines all through a photograph.
MAX_GUTTER_SHARE = 0.04
MAX_FLAT_LINES = 0.1
# A gutter runs along a picture's edge: of the EDGE_LINES lines on either side of it, one at least
# has grey levels spread by MIN_EDGE_SPREAD (the dark sky of a photograph has flat lines between
# lines of a few stars; the other side of a gutter may be a flat placeholder).
EDGE_LINES = 3
MIN_EDGE_SPREAD = 36
# A cell is at least MIN_CELL_SHARE of the image's width and height (a strip of caption text or a
# thumbnail is no picture worth a search), and holds a picture: its grey levels spread by at least
# MIN_PICTURE_SPREAD and no one grey level (in bins of 8) covers MAX_FLAT_SHARE of it (a night
# sky or the Hubble deep field cover half of theirs; a placeholder with a line of text, most).
MIN_CELL_SHARE = 0.15
MIN_PICTURE_SPREAD = 40
MAX_FLAT_SHARE = 0.7
# At most MAX_CELLS cells are returned (a 3x3 grid), the largest first; a collage has at least 2.
MAX_CELLS = 9
# Cuts go at most this deep (a grid of 3x3 is two: its rows, then each row's columns).
MAX_DEPTH = 4
# A seam (pictures edge to edge, no gutter) is a line across the whole image where, on at least
# SEAM_SHARE of its samples, the grey level jumps by more than SEAM_STEP plus twice the larger step
# between the neighbouring lines on either side (a hard break in smooth or textured picture
# alike), and the lines on both sides are not flat (spread by SEAM_SIDE_SPREAD: a bar or a page's
# background beside a picture is no seam). A grid needs seams both ways, MIN_CELL_SHARE apart.
# Tune half, a 2x2 or 3x3 grid with no gutters and square cells (benchmarks/edits.py
# collage_grid_tight, 2 seeds): the photograph's cell found in 121 of 132 grids (a step of 12
# levels: 117); of 1,188 pictures under nine other kinds of edit, 3 more have cells (a photo of
# a screen, a letterbox of a sunset), which costs them a search of each cell.
SEAM_SHARE = 0.5
SEAM_STEP = 8
SEAM_SIDE_SPREAD = 16
# A grid has at most this many seams each way (3x3); more lines where the picture breaks off make
# a pattern, such as a checkerboard (18 of the tune half's 110 degenerate queries were cut into
# cells without this rule, none with it).
MAX_SEAMS = 2


def collage_cells(image: Image.Image) -> list[Frame]:
    """The pictures of the collage `image` (each a Frame in its pixels), largest first: two or more
    cells cut by gutters (or, for a grid set edge to edge, along its seams), each holding a
    picture; an empty list for anything else (a single picture, a page, a screenshot whose only
    picture is framed by interface)."""
    width, height = image.size
    if min(width, height) < 32:
        return []
    factor = -(-max(width, height) // SIDE)  # ceiling: an integer box reduction, the fastest
    grey = image.convert("L")
    if factor > 1:
        grey = grey.reduce(factor)
    small = np.asarray(grey, dtype=np.int16)
    h, w = small.shape
    limits = (max(1, round(MAX_GUTTER_SHARE * w)), max(1, round(MAX_GUTTER_SHARE * h)))
    min_size = (MIN_CELL_SHARE * w, MIN_CELL_SHARE * h)
    cells = _pictures(small, _cut(small, (0, 0, w, h), limits, MAX_DEPTH), min_size)
    if len(cells) < 2:
        cells = _pictures(small, _seam_grid(small), min_size)
    if len(cells) < 2:
        return []
    cells.sort(key=lambda b: (-(b[2] - b[0]) * (b[3] - b[1]), b[1], b[0]))
    sx, sy = width / w, height / h
    return [Frame(round(x0 * sx), round(y0 * sy), min(width, round(x1 * sx)), min(height, round(y1 * sy)),
                  share=round((x1 - x0) * (y1 - y0) / (w * h), 4))
            for x0, y0, x1, y1 in cells[:MAX_CELLS]]


def _pictures(small: np.ndarray, parts: list[tuple[int, int, int, int]],
              min_size: tuple[float, float]) -> list[tuple[int, int, int, int]]:
    """The parts large enough to be cells that hold a picture."""
    return [part for part in parts if part[2] - part[0] >= min_size[0] and part[3] - part[1] >= min_size[1]
            and _holds_a_picture(small[part[1]:part[3], part[0]:part[2]])]


def _seam_grid(small: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The cells of a grid whose pictures meet edge to edge, cut along its seams (each seam's
    line dropped: it may blend both pictures); no cell unless there are seams both ways."""
    h, w = small.shape
    if min(h, w) < 16:
        return []
    rows, columns = _broken(small), _broken(small.T)
    row_seams = _seams(_textured_sides(small, rows))
    column_seams = _seams(_textured_sides(small.T, columns))
    # Seams one way cut the grid into strips; a seam the other way may not break off in every
    # strip (two pictures alike across it), so a seam found in two strips counts too.
    for _ in range(2):
        before = (row_seams, column_seams)
        if row_seams:
            column_seams = _seams(_in_two_strips(small.T, columns, row_seams))
        if column_seams:
            row_seams = _seams(_in_two_strips(small, rows, column_seams))
        if (row_seams, column_seams) == before:
            break
    if not row_seams or not column_seams:
        return []
    spans = [list(zip([0] + [s + 1 for s in seams], seams + [end]))
             for seams, end in ((row_seams, h), (column_seams, w))]
    return [(x0, y0, x1, y1) for y0, y1 in spans[0] for x0, x1 in spans[1]]


def _in_two_strips(lines: np.ndarray, whole: np.ndarray, cuts: list[int]) -> np.ndarray:
    """Each line's seam score over the whole of it (`whole`, from _broken) or, where higher, the
    second best of its scores in the strips that `cuts` (positions along the lines) make; 0 where
    a side of the line is flat."""
    edges = zip([0] + [c + 1 for c in cuts], cuts + [lines.shape[1]])
    strips = np.sort([_broken(lines[:, a:b]) for a, b in edges], axis=0)
    return _textured_sides(lines, np.maximum(whole, strips[-2]))


def _broken(lines: np.ndarray) -> np.ndarray:
    """For each line (row of `lines`), the share of its samples where the picture breaks off
    there (see SEAM_SHARE); 0 at the first and last 3 lines. Whether its sides are pictures is
    _textured_sides'."""
    n = lines.shape[0]
    score = np.zeros(n)
    if n < 16 or lines.shape[1] < 8:
        return score
    s = _sampled(lines)
    near = np.abs(s[1:] - s[:-1])  # near[k]: from line k to k + 1
    jump = np.abs(s[2:] - s[:-2])  # jump[k]: across line k + 1, which may blend both sides
    j = np.arange(3, n - 3)  # a seam at line j, between lines j - 1 and j + 1
    score[j] = (jump[j - 1] > 2 * np.maximum(near[j - 3], near[j + 2]) + SEAM_STEP).mean(axis=1)
    return score


def _textured_sides(lines: np.ndarray, score: np.ndarray) -> np.ndarray:
    """`score`, but 0 for a line that could be a seam where the line 2 before it or 2 after it
    spreads by less than SEAM_SIDE_SPREAD (only those lines are measured: it is the slow part)."""
    candidates = np.flatnonzero(score >= SEAM_SHARE)
    if len(candidates) == 0:
        return score
    sides = _sampled(lines)[np.concatenate([candidates - 2, candidates + 2])]
    low, high = np.percentile(sides, (5, 95), axis=1)
    spread = (high - low).reshape(2, -1)
    score = score.copy()
    score[candidates[spread.min(axis=0) < SEAM_SIDE_SPREAD]] = 0
    return score


def _sampled(lines: np.ndarray) -> np.ndarray:
    """About LINE_SAMPLES evenly spaced pixels of each line: enough for its percentiles and steps."""
    return lines[:, ::max(1, lines.shape[1] // LINE_SAMPLES)]


def _seams(score: np.ndarray) -> list[int]:
    """The lines whose seam score reaches SEAM_SHARE, best first, at least MIN_CELL_SHARE of the
    lines from the ends and from each other; none where the picture breaks off in more than
    MAX_SEAMS places (a pattern: a checkerboard, tiles, a building's windows)."""
    breaking = score >= SEAM_SHARE
    if np.count_nonzero(breaking[1:] & ~breaking[:-1]) + int(breaking[0]) > MAX_SEAMS:
        return []
    n = len(score)
    margin = MIN_CELL_SHARE * n
    seams: list[int] = []
    for line in np.argsort(-score, kind="stable"):
        if score[line] < SEAM_SHARE:
            break
        if margin <= line <= n - margin and all(abs(line - other) >= margin for other in seams):
            seams.append(int(line))
    return sorted(seams)


def _cut(small: np.ndarray, box: tuple[int, int, int, int], limits: tuple[int, int],
         depth: int) -> list[tuple[int, int, int, int]]:
    """The parts of `box` once cut along every gutter across it, rows first, then each part again;
    `box` itself when no gutter crosses it."""
    if depth == 0:
        return [box]
    x0, y0, x1, y1 = box
    part = small[y0:y1, x0:x1]
    for axis in (0, 1):  # 0: gutters are rows (cut top from bottom); 1: columns
        lines = part if axis == 0 else part.T
        bands = _gutters(lines, limits[1 - axis])
        if not bands:
            continue
        edges = [0] + [edge for band in bands for edge in band] + [lines.shape[0]]
        pieces = []
        for start, end in zip(edges[::2], edges[1::2]):
            if end > start:
                pieces.append((x0, y0 + start, x1, y0 + end) if axis == 0 else (x0 + start, y0, x0 + end, y1))
        return [p for piece in pieces for p in _cut(small, piece, limits, depth - 1)]
    return [box]


def _gutters(lines: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """The bands (start, end) of consecutive lines of one grey level, at most `limit` lines thick,
    that touch neither end of `lines` (a border or a bar is no gutter) and lie between lines of
    picture."""
    if lines.shape[0] < 3 or lines.shape[1] < 8:
        return []
    low, middle, high = np.percentile(_sampled(lines), (5, 50, 95), axis=1)
    spread = high - low
    flat = spread <= MAX_LINE_SPREAD
    inner = np.flatnonzero(~flat)
    if len(inner) == 0 or flat[inner[0]:inner[-1] + 1].mean() > MAX_FLAT_LINES:
        return []  # flat lines all through the picture (a night sky), not a few gutters
    bands, start = [], None
    for i in range(len(flat) + 1):
        # a band ends where the lines stop being flat or change level (a white gutter beside a
        # flat grey placeholder is still a gutter)
        if start is not None and (i == len(flat) or not flat[i] or abs(middle[i] - middle[start]) > MAX_LINE_SPREAD):
            if (start > 0 and i < len(flat) and i - start <= limit
                    and max(spread[max(0, start - EDGE_LINES):start].max(),
                            spread[i:i + EDGE_LINES].max()) >= MIN_EDGE_SPREAD):
                bands.append((start, i))
            start = None
        if start is None and i < len(flat) and flat[i]:
            start = i
    return bands


def _holds_a_picture(part: np.ndarray) -> bool:
    """Whether a cell's grey levels look like a picture's: spread, not mostly one level."""
    part = part[::2, ::2] if min(part.shape) >= 64 else part  # a quarter of the pixels is enough
    low, high = np.percentile(part, (2, 98))
    if high - low < MIN_PICTURE_SPREAD:
        return False
    counts = np.bincount((part >> 3).ravel(), minlength=32)
    return counts.max() < MAX_FLAT_SHARE * part.size
