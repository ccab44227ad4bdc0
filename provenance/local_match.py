"""Verify that a query image shows (part of) an indexed picture, and say how.

Two independent checks must both pass before a candidate counts as a match:

1. Geometry: descriptor matches (ratio test) must agree on one homography
   (MAGSAC), with enough inliers spread over enough of the original (convex
   hull share), and the homography must be a plausible re-publication
   (orientation kept, bounded scale and perspective).
2. Appearance: the query is warped back into the original's frame and compared
   with the original's stored grayscale template block by block (normalised
   cross-correlation).  A real re-publication agrees over most blocks of the
   overlap; two pictures sharing only a logo or a caption banner agree over
   the one or two blocks that the shared element covers.

Thresholds were measured with benchmarks/local_tuning.py on the "tune" half of
the photo corpus; each comment gives the figures it came from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import NamedTuple

import cv2
import faiss
import numpy as np
from PIL import Image

from .collage import collage_cells
from .framing import Frame, framed_on_screen, framed_picture
from .local_features import COLOUR_MAX_SIDE, LocalFeatures, extract, extract_mirrored, working_size
from .local_index import LocalFeatureIndex, rerank
from .parts import Looked
from .screen import Screen, screen_picture

# --- candidates ------------------------------------------------------------
# Candidates scoring below this (burst-weighted votes, see LocalFeatureIndex)
# are not verified at all.  Tune half: the lowest score of a true pair that
# passed verification was 3.96 (0.5th percentile 5.9); 10 % of unrelated
# candidates score below 3.
MIN_CANDIDATE_SCORE = 3.0
# The visual-word index proposes this many candidates, re-ranked by exact descriptor votes
# (local_index.rerank) before the best k are verified. Report half, 410 items, a random quarter of
# the queries (benchmarks/local_scale.py): true original among the 12 verified 0.961 from the words
# alone, 0.980 re-ranking 48 of them, 0.985 with exact votes over every stored descriptor (which
# takes 16 KB per item); the re-ranking costs ~45 ms per query side.
SHORTLIST = 48
# The second and framed looks (search) come only after a query matched nothing, so they propose
# more. Tune half, first look: the words ranked the original beyond 48 for 6 of 66 crops to 50%
# and 4 of 66 crop+logo copies (other kinds: never); at 96 in the second looks, one more crop was
# found (crop 50% 62 -> 63 of 66, all kinds 0.995 -> 0.996), still no false match in 2,000, for
# +22 ms median CPU on a never-indexed check at 1,000 items (207 -> 229 ms, 120 queries
# alternated; benchmarks/match_quality.py --half tune). Report half, run once: see
# benchmarks/RESULTS.md.
SECOND_LOOK_SHORTLIST = 96
# A query that matched nothing at the first look (nor mirrored) has the next DEEPER_SHORTLIST of the
# first look's candidates re-ranked and verified before any later look (search): on a photo of a
# screen the words' votes are noisy (blur, moire, sensor noise) while the exact re-ranking is not.
# Tune half, benchmarks/more_seeds.py with 20 seeds: both photos of a screen still missed (of
# 1,320) had their original ranked 59th and 66th by the words at the first look, first by the
# re-ranking, and verified at 50-63 inliers; no later look shortlisted it.
DEEPER_SHORTLIST = 48
# A query's match leads to the picture's other indexed copies (search, other_copies): the stored
# features of each of its OTHER_COPIES_FROM best matches are looked up in the index like a query
# (OTHER_COPIES_SHORTLIST proposed, the best OTHER_COPIES_VERIFIED re-ranked); a candidate that
# verifies against that match (the same picture) is then verified against the query itself, in the
# look that found the match and, if need be, at the whole query's other scales. A stamped copy
# and its original are near-duplicates, so the copy's features rank the original near the top,
# where the query's own words may not (a photo of a screen ranked it 49th of 1,000). Tune half,
# benchmarks/more_seeds.py: of the 11 crops and photos of a screen still missed, 5 had matched
# only the logo or banner copy of their photograph (match_quality.py indexes 20 such copies); this
# finds the original for 3 of them (both photos of a screen), no false match in 2,000.
OTHER_COPIES_FROM = 2
OTHER_COPIES_SHORTLIST = 24
OTHER_COPIES_VERIFIED = 4
# A query's match leads to the items its work's chain says that match came from (search,
# `sources_of`): up to CHAIN_SOURCES of them, the strongest match's nearest first, are verified
# against the query in the look that found the match. In an archive holding many copies of a
# picture, a look's 12 places fill with copies and the original is not verified, so a scan links a
# crop to a stamped copy and the chain hangs it there. See benchmarks/RESULTS.md (*Sources of a
# match*) for the figures.
CHAIN_SOURCES = 4
# Parts (pictures cut from indexed items, parts.py) take no place of the k candidates a look
# verifies: each part ranked above the k-th other candidate is verified beside them, up to
# PART_PLACES parts a look. k was measured before parts were indexed, and parts are mostly pictures
# straightened from photos of screens, which a photo of a screen resembles more than the picture it
# shows does: on the report half at 10,000 items (59 parts), two parts of other pictures took the
# 11th and 12th places of a photo of a screen whose original was ranked 11th before they were cut.
# In an archive of phone photos of posts (benchmarks/one_app.py, tune half: 66 parts of 264 items)
# the first look's deeper candidates (DEEPER_SHORTLIST) of a photographed post held 6 parts
# ranked above the 12th other candidate, the true one 5th of them; with a limit of 4 it was lost.
PART_PLACES = 12
# A query that matched nothing in the first look, nor mirrored, nor deeper, and whose keypoints
# include at least STRONG_LOOK_WEAK_SHARE of weak corners (local_features.FAST_FALLBACK_THRESHOLD,
# taken in the grid cells scarce in strong ones) is looked at again with its strong corners only
# (the strong look). On a phone photo of a screen the weak corners are mostly sensor noise and
# moire on a plain wall and a smooth sky; their descriptors vote for smooth indexed pictures, whose
# own weak corners are noise too. Tune half, benchmarks/more_seeds.py, photo of a screen with
# seeds 21-50: both of the 1,980 missed (a rocket on its pad at dusk, half of their keypoints weak)
# had their original ranked 132nd and 141st by the words; with strong corners only, 1st, verified
# at 66 and 56 inliers. The share (a quarter, where the rocket's were 0.5-0.6) keeps the look from
# most queries whose smooth parts borrowed a few weak corners: it costs a never-indexed check +9 ms
# median, +42 ms at the 90th percentile (1,000 items, 80 tune queries alternated); tune half at
# 1,000 items unchanged (0.998, no false match in 2,000).
STRONG_LOOK_WEAK_SHARE = 0.25
# A query that matched nothing at any of those looks, nor framed, is searched for the picture on a
# screen photographed at an angle (screen.screen_picture): cut out along its four corners,
# straightened to a rectangle and described at the index's scale (the screen look). Its keypoints
# then fall on the picture alone, not on the wall's noise, and its geometry is nearly a scaling.
# Tune half, benchmarks/more_seeds.py --kinds screen_photo_harsh (a harsher photo of a screen than
# the benchmark's: corners moved by up to 12%, blur of 1-2 px, sensor noise of 4-8 levels, moire of
# 4-8%): see benchmarks/RESULTS.md for the figures with and without it.
# An outline that covers SCREEN_COVERS_FRAME of the box of the picture framed in the query
# (framing.framed_picture) is not searched: it is that picture again, or a post's card around it,
# and the framed look searched it already. In 16 of 40 never-indexed social screenshots
# (benchmarks/check_at_scale.py) a dark theme's card made such an outline, and searching it cost
# ~100 ms more at a million items. A monitor on a plain wall is framed too, but with its bezel, so
# its screen covers less of the frame and is searched.
SCREEN_COVERS_FRAME = 0.9
# A straightened screen that matched nothing is searched once more for the picture framed in the
# page it shows (framing.framed_on_screen; the framed-on-screen look): a phone photo of a screen
# showing a social-media post, where the post's text shares the keypoints and the words rank the
# original too low. Tune half, benchmarks/more_seeds.py --kinds screen_photo_of_post: see
# benchmarks/RESULTS.md for the figures with and without it.
# A query cut by gutters or seams into pictures (collage.collage_cells: a grid of four or nine,
# any collage) has each picture that no match covers searched on its own (the cell look), whether
# or not something matched: a collage holds several pictures, and an investigator wants each
# one's source. Tune half, benchmarks/more_seeds.py --kinds collage_grid,collage_grid_tight: see
# benchmarks/RESULTS.md.

# The later looks that search the mirror image of what they looked at when they found nothing
# (unless search's `mirrored` is False): a mirrored picture cropped, in a post, on a photographed
# screen or in a grid, which the whole query's mirror image does not find. Tune half, 1,000 items,
# more_seeds.py --kinds crop_50_mirrored,... (2 seeds, 132 queries each): a mirrored crop to 50%
# 0.848 -> 0.985 through the crop look's mirror image (the index scale's instead: 0.947; both: no
# better than the crop look's alone), a photographed post 0.303 -> 0.947, a grid 0.826 -> 0.992
# (benchmarks/RESULTS.md, *Mirrored later looks*). Never-indexed queries at 10,000 items pay
# +56 ms median, most of it the crop look's (few queries have a screen or cells). Not the framed
# look's: the whole query's mirror image already holds a post's picture mirrored; it found 2 more
# of 264 mirrored screenshots and posts, and cost a never-indexed screenshot ~100 ms at a million
# items.
MIRRORED_LOOKS = frozenset({"crop", "screen", "framed_on_screen", "cell"})

# --- geometric check -------------------------------------------------------
# Thresholds below come from benchmarks/local_tuning.py on the TUNE half
# (66 photos x 15 edits + shared-logo/banner traps, 709 items indexed, 1,523
# queries; figures "true" = pairs showing the same picture, "false" = others).
# Lowe ratio between the best and second-best query descriptor.
RATIO = 0.85
# Hamming distance above which a descriptor match is not considered.
MAX_MATCH_DISTANCE = 80
# MAGSAC threshold in query working pixels.
RANSAC_THRESHOLD = 4.0
# Minimum RANSAC inliers (true pairs: 1st percentile 12, 5th 25; false pairs
# reach 175 inliers on shared banners, so inliers alone decide nothing).
MIN_INLIERS = 8
# Up to STRONG_INLIERS inliers a match needs the stricter block agreement.
STRONG_INLIERS = 20
# Minimum share of the original covered by the inliers' convex hull (true:
# 1st percentile 0.024; false: median 0.048, so the hull only removes pairs
# resting on a tiny patch; block agreement does the rest). Was 0.02: on the tune
# half (benchmarks/pair_stats.py, 526 false pairs past geometry) no false pair
# passes every other check at any hull share, while a 50% crop whose detail
# lies in one small bird or peak verifies at 0.007 (match_quality.py, tune
# half: crop 50% 61 -> 62 of 66, no false match in 2,000).
MIN_HULL_SHARE = 0.005
# Below SMALL_HULL_SHARE (the old floor) the fine detail must agree too (detail NCC of at least
# SMALL_HULL_DETAIL_NCC): a match resting on a small patch of the original is a different picture
# unless its texture correlates. Tune half: the false pairs with 20+ inliers at an inlier ratio of
# 0.33+ (benchmarks/pair_stats.py, first look and crop look: 7 and 1) had hull shares of
# 0.002-0.017 and detail 0.64 at most, stopped by block agreement alone; one passed the blocks at
# 10,000 items with the crop look (benchmarks/match_quality.py, both halves: the generated scenes
# are shared; tests/data/false_pairs): hull 0.010, detail 0.50. True pairs under 0.02: that bird
# (detail 0.90) and a crop of peaks found by a later look (hull 0.007, detail 0.75).
SMALL_HULL_SHARE = 0.02
SMALL_HULL_DETAIL_NCC = 0.7
# Plausible scale (query pixels per original pixel, sqrt of |det|).
SCALE_RANGE = (0.02, 50.0)
# Largest ratio between the local scales of the homography at the original's
# corners (a photographed screen at 8 % per corner stays below ~1.5).
MAX_SCALE_SPREAD = 2.5
# Minimum share of the original that lies inside the query (true: min 0.34).
MIN_VISIBLE_SHARE = 0.2

# A picture shown at more than this factor of its size (or less than its inverse) was "scaled";
# one showing less than CROPPED_BELOW of its area, "cropped"; one turned by ROTATED_BEYOND
# degrees or more, "rotated".
SCALED_BEYOND = 1.1
CROPPED_BELOW = 0.97
ROTATED_BEYOND = 2.0

# --- appearance check ------------------------------------------------------
# Side of a comparison block in template pixels (template side is 128).
BLOCK = 16
# The block grid starts this far in: the outermost template pixels mix with
# whatever surrounds the picture in the query (frame outlines, rounded
# corners, UI), which made true screenshot pairs disagree on their edge blocks.
BLOCK_INSET = BLOCK // 2
# A block is compared only when this share of it falls inside the query.
MIN_BLOCK_COVERAGE = 0.9
# A block flat in the original (std below FLAT_STD gray levels) is compared
# only if the query shows an overlay there (std >= OVERLAY_STD: a logo, text),
# not for mere noise, JPEG ringing or a 1-px frame line (std 4-11 measured on
# screenshot edges).
FLAT_STD = 3.0
OVERLAY_STD = 12.0
# NCC at or above which a block agrees: the blocks' NCC, or their NCC once the plane that best
# fits each is removed (a glare's or a vignette's brightness slopes across a block, and the plain
# NCC of a textured block under it falls). An overlay is told by the query block's std less its
# plane too, so a glare on a flat part of the original is no overlay. Tune half: photos of a screen
# under a harsh glare (15-35% of the picture, 80-95% white; scratch tuning, 2 seeds) 122 -> 128 of
# 132, every refused one refused for its blocks; benchmarks/pair_stats.py: true pairs accepted
# unchanged (966 at the first look, 912 at the crop look), false pairs accepted 0 and 0, and without
# the detail rules 9 -> 12 and 3 -> 4 (all under 30 inliers at an inlier ratio under 0.32).
BLOCK_NCC = 0.5
# Minimum number of compared blocks.
MIN_BLOCKS = 4
# Minimum share of compared blocks agreeing: MIN_BLOCK_SHARE with at least
# STRONG_INLIERS inliers (false pairs with >= 20 inliers: max 0.66, from two
# photos under the same caption banner), WEAK_MATCH_BLOCK_SHARE below that
# (false pairs with 8-19 inliers reach 0.83, generated look-alike textures).
# Chosen by grid search as the zero-false setting with the best mean recall.
MIN_BLOCK_SHARE = 0.7
WEAK_MATCH_BLOCK_SHARE = 0.85
# A crop that is mostly sky leaves few blocks to compare (flat blocks of the original are not):
# FEW_BLOCKS suffice when the geometry is clear (at least STRONG_INLIERS inliers at an inlier ratio
# of FEW_BLOCKS_RATIO) and the fine detail agrees (a detail NCC of FEW_BLOCKS_DETAIL_NCC); the
# blocks compared must still agree as a strong match's do (MIN_BLOCK_SHARE), or half of them for a
# match strong on its own (detail MIN_DETAIL_NCC, below). Tune half: of 611 false pairs
# (benchmarks/pair_stats.py, first look and crop look), none with 12 inliers or more had fewer
# than 4 blocks, and the 3 with 20+ inliers at a ratio of 0.5+ had a detail NCC of 0.47 at most
# (and 14-25% of their blocks agreeing); benchmarks/more_seeds.py found 50% crops of a sunset and
# of a sky over rocks rejected for 2-3 blocks at 29-50 inliers, ratio 0.78-0.81, detail 0.88-0.96,
# and, with 10 seeds, crops of a sky over peaks at 30-35 inliers, ratio 0.64-0.70, detail
# 0.77-0.83, 3 of 3 blocks agreeing (hence a detail bar of 0.7 here, the small hull's).
FEW_BLOCKS = 2
FEW_BLOCKS_RATIO = 0.5
FEW_BLOCKS_DETAIL_NCC = 0.7
# Such a match (strong on its own) needs only this share of its compared blocks to agree: on a
# photographed screen nearly a third of them can disagree. Tune half (benchmarks/pair_stats.py,
# first look and crop look): of 611 false pairs, none with 20+ inliers had a detail NCC of 0.86 or
# more, while a photo of a screen at 115 inliers, ratio 0.89 and detail 0.99 had 11 of 16 blocks
# agreeing (0.69), in 2 of 5 seeds of benchmarks/more_seeds.py.
STRONG_ALONE_BLOCK_SHARE = 0.5

# Look-alike layouts: two different pictures built on one template (web-page cards with a header
# bar, coloured boxes and text in one font) agree on their shapes' edges, so the blocks agree, but
# only a small share of the ratio-test matches fits the homography and the fine detail (text,
# texture) does not correlate.  Below CONSISTENCY_INLIERS inliers, a match whose inlier ratio is
# under MIN_INLIER_RATIO must also have a detail correlation (NCC of the difference-of-Gaussians
# images over the overlap, template grid) of at least MIN_DETAIL_NCC.  Tune half (66 photos x 15
# edits against 800 generated scenes never in the report sets, 1,066 items indexed; figures from
# benchmarks/pair_stats.py): the 7 false pairs passing every other check had inlier ratio <= 0.289
# and detail <= 0.82 (<= 28 inliers); true pairs with inlier ratio < 0.36 had detail >= 0.88 but
# for a photo of a screen (ratio 0.27, detail 0.60) and a caption banner (0.31, 0.61): 2 of 980
# accepted true pairs lost.
CONSISTENCY_INLIERS = 40
MIN_INLIER_RATIO = 0.33
MIN_DETAIL_NCC = 0.86

# The page around the picture of a social-media post (status bar, icons, button rows, text lines)
# is the same in every post of one app, and photographed on a phone it agrees with another post's
# page in its blocks and its fine detail at the template's size. So a match under
# CONSISTENCY_INLIERS inliers whose outline spreads over the page around the picture framed on a
# photographed screen's page in the query (screen.screen_picture, framing.framed_on_screen) must
# have at least PAGE_PICTURE_SHARE of its inliers on that picture (search; verify cannot see the
# page). Tune half (benchmarks/scan_links.py --stress screen_photo_of_post linked photos of
# different posts): the 7 such looks accepted spread over 4.2-7.5 times the picture's area with
# none of their 10-25 inliers inside it (less its edges); photos of a post against their own
# photograph (16) spread over 0.8-1.7 times it (the rule leaves them), against a screenshot of the
# same post (2) over 2.6-2.8 times it with 80-88% of their inliers inside.
PAGE_PICTURE_SHARE = 1 / 3
# The picture counts without its edges, which are the page's too (in every post of a template the
# picture's corners lie at the same place): its outline shrunk to this share about its middle.
# Tests: 9 of 27 inliers of two different posts lay on the picture, all within its outer tenth.
PAGE_PICTURE_INNER = 0.9
# The rule holds for a match whose outline spreads over at least this many times the picture's area
# (the page around it too); a match of the picture itself (its outline the picture's) is left alone.
PAGE_BEYOND_PICTURE = 2.0
# ... and beyond the screen: at most this share of its outline lies on the screen. Another photo of
# a phone with the same app open matches this one's phone and the wall around it, not only what
# the screen shows; a photographed monitor's picture, or a screenshot of the very post, lies on the
# screen, and framed_on_screen may frame a part of a monitor's photograph (a rock on a slope) as if
# it were a post's picture. Tune half: the 7 false looks above had 42-61% of their outline on the
# screen; 2 true matches of photographed monitors that the rule refused in a look (of 1,188
# photos of monitors and grids, more_seeds.py seeds 9-16) had 98-100%, a screenshot of the same
# post 98%. The report half had lost 5 of 670 photos of a screen to the rule (more_seeds.py
# --half report --size 10000 --seeds 10: 649 -> 644).
PAGE_ON_SCREEN = 0.8
# ... and it matched on the page, which is on the screen: at least this share of its inliers lie on
# the screen. The 7 false looks above had 93-100% of their inliers there, the 8 cross pairs of
# tests/test_local_match.py's photographed posts 83-91%; a crop of a photograph in which
# screen_picture found a screen that is none has its inliers all over the crop.
PAGE_INLIERS_ON_SCREEN = 0.7
# Two phone photos of posts of one app share the phone's interface (status bar, headers, avatars,
# button rows, navigation bar) and body, and at the template's size they agree in blocks and fine
# detail whatever pictures the posts show (whole-query detail 0.56-0.95 in such false pairs). So a
# match that spreads beyond the screen photographed in the query (at most PAGE_ON_SCREEN of its
# outline on it: the original is a photo of a screen too) must also agree in fine detail on what
# that screen shows: on the picture framed in its page (less its edges, PAGE_PICTURE_INNER), or
# when none is found on the screen's middle (SCREEN_DETAIL_INNER of it about its centre, without
# the bars along its edges): MIN_SCREEN_DETAIL_NCC. Tune half (benchmarks/one_app.py's archive of
# posts; 556 whole-query looks verified beyond the screen): of the same picture, on the page's
# picture 0.74-1.00 (96), on the screen's middle 0.61-1.00; of another picture, on the page's
# picture -0.37-0.91 (90% under 0.32; 424), on the screen's middle -0.34-0.93. Two posts of
# adjacent tiles of one sunset agree at 0.83-0.92. A picture too small in the original's template
# to compare (_detail_ncc's 50 pixels) cannot vouch for the match either: it is refused.
MIN_SCREEN_DETAIL_NCC = 0.7
SCREEN_DETAIL_INNER = 0.8
# How explain names a look that verify takes and search refuses.
PAGE_REFUSAL = "matches the page around a photographed post's picture, not the picture"
SCREEN_REFUSAL = "matches another photographed screen, whose content disagrees"

# A query that matched nothing is looked at again at the index's scale, then at a crop's (search,
# second_look) only when that changes its working size by more than this from every look made
# before: the index's scale does not change that of a 2:1 phone screenshot.
SECOND_LOOK_MIN_CHANGE = 0.1

# Up to this many inlier pairs are returned for drawing.
MAX_CORRESPONDENCES = 50


@dataclass
class LocalMatch:
    """A verified occurrence of indexed item `item_id` in a query image.

    Geometry is expressed in ORIGINAL pixels of both images: `homography`
    maps the indexed original onto the query; `quad_in_query` is where the
    original's corners land in the query; `visible_in_original` is the
    bounding box [x0, y0, x1, y1] of the part of the original the query shows,
    `visible_share` its share of the original's area.
    """

    item_id: int
    inliers: int
    inlier_ratio: float
    homography: list[list[float]]
    quad_in_query: list[list[float]]
    visible_in_original: list[float]
    visible_share: float
    mirrored: bool
    rotation_deg: float
    scale: float
    ncc_blocks: float
    blocks_compared: int
    hull_share: float
    detail_ncc: float = 0.0
    #: Found by a second look (see search): its strong corners, at the index's scale, at a crop's,
    #: in the framed picture or on a photographed screen.
    second_look: bool = False
    #: The look that verified it: "first" (the query as given), "strong" (its strong corners only),
    #: "index" (at the index's scale), "crop" (at the scale of a crop), "framed" (the picture framed
    #: in the query), "screen" (the picture on a screen photographed at an angle, straightened),
    #: "framed_on_screen" (the picture framed in the page that screen shows), "cell" (one picture
    #: of a collage).
    look: str = "first"
    #: The picture framed in the query, or the collage's cell ([x0, y0, x1, y1]), in which a second
    #: look found the match.
    framed_in: list[float] | None = None
    #: The screen's picture (its corners: top-left, top-right, bottom-right, bottom-left) in which
    #: the screen look or the framed-on-screen look found the match.
    screen_in: list[list[float]] | None = None
    #: The indexed item whose match led to this one (search, other_copies): another copy of the picture.
    found_via: int | None = None
    #: When the global hash of the look's picture (a framed picture, a screen's, a cell), not the
    #: visual words, proposed this item for verification: the hashes' distance in bits (see
    #: search, `propose`).
    proposed_by_hash: int | None = None
    edits: list[str] = field(default_factory=list)
    correspondences: list[list[list[float]]] = field(default_factory=list)

    def to_evidence(self) -> dict:
        """A JSON-serialisable dict of every field (plain floats, ints, lists)."""
        return asdict(self)


def verify(
    query: LocalFeatures,
    candidate: LocalFeatures,
    item_id: int,
    *,
    mirrored: bool = False,
) -> LocalMatch | None:
    """Return a LocalMatch if `query` shows the picture `candidate`, else None.

    `query` should come from `extract(..., for_query=True, keep_working=True)`
    (the appearance check then uses its full working image; otherwise only its
    small template, which fails for pictures framed small in a large query).
    With `mirrored=True`, `query` describes the left-right mirror of the query
    image (see `extract_mirrored`) and the result is expressed in the
    unmirrored query's coordinates.
    """
    geometry = _geometric_check(query, candidate)
    if geometry is None:
        return None
    h_work, src, dst, n_matches = geometry
    h_orig = _to_original(h_work, query, candidate)
    visible = _visible_region(h_orig, query.original_size, candidate.original_size)
    if visible is None or visible[1] < MIN_VISIBLE_SHARE:
        return None
    hull_share = _hull_share(src, candidate.working_size)
    if hull_share < MIN_HULL_SHARE:
        return None
    share, compared, gain, offset, detail = _block_agreement(query, candidate, h_orig)
    inlier_ratio = len(src) / max(1, n_matches)
    if refusal(len(src), inlier_ratio, visible[1], hull_share, compared, share, detail) is not None:
        return None

    # rotation and scale of the picture itself, i.e. measured before unmirroring
    rotation, scale = _rotation_and_scale(h_orig, candidate.original_size)
    if mirrored:
        h_orig = _mirror(query.original_size[0]) @ h_orig
    quad = _project(h_orig, _corners(candidate.original_size))
    pairs = _correspondences(src, dst, query, candidate, mirrored)
    match = LocalMatch(
        item_id=int(item_id),
        inliers=len(src),
        inlier_ratio=round(inlier_ratio, 4),
        homography=[[float(v) for v in row] for row in h_orig / h_orig[2, 2]],
        quad_in_query=[[round(float(x), 2), round(float(y), 2)] for x, y in quad],
        visible_in_original=[round(float(v), 2) for v in visible[0]],
        visible_share=round(float(visible[1]), 4),
        mirrored=mirrored,
        rotation_deg=round(rotation, 2),
        scale=round(scale, 4),
        ncc_blocks=round(share, 4),
        blocks_compared=compared,
        hull_share=round(hull_share, 4),
        detail_ncc=round(detail, 4),
        correspondences=pairs,
    )
    match.edits = _describe_edits(match, query, candidate, quad, gain, offset, h_orig)
    return match


def refusal(inliers: int, inlier_ratio: float, visible_share: float, hull_share: float,
            blocks_compared: int, block_share: float, detail_ncc: float, *, detail_rules: bool = True) -> str | None:
    """Why a pair with these verification figures is not a match, or None when it is: the
    thresholds above in one place (verify decides with it; benchmarks/pair_stats.py replays it on
    measured pairs, with or without the `detail_rules`: the inlier ratio's and the small hull's)."""
    if inliers < MIN_INLIERS:
        return "too few inliers"
    if visible_share < MIN_VISIBLE_SHARE:
        return "too little of the original visible"
    if hull_share < MIN_HULL_SHARE:
        return "inliers on a tiny patch"
    clear = inliers >= STRONG_INLIERS and inlier_ratio >= FEW_BLOCKS_RATIO  # the geometry
    if blocks_compared < (FEW_BLOCKS if clear and detail_ncc >= FEW_BLOCKS_DETAIL_NCC else MIN_BLOCKS):
        return "too few blocks to compare"
    strong_alone = clear and detail_ncc >= MIN_DETAIL_NCC
    if block_share < (STRONG_ALONE_BLOCK_SHARE if strong_alone
                      else MIN_BLOCK_SHARE if inliers >= STRONG_INLIERS else WEAK_MATCH_BLOCK_SHARE):
        return "the blocks disagree"
    if not detail_rules:
        return None
    if inliers < CONSISTENCY_INLIERS and inlier_ratio < MIN_INLIER_RATIO and detail_ncc < MIN_DETAIL_NCC:
        return "look-alike layout: detail disagrees"
    if hull_share < SMALL_HULL_SHARE and detail_ncc < SMALL_HULL_DETAIL_NCC:
        return "small patch alike: detail disagrees"
    return None


def search(
    query_image: Image.Image,
    index: LocalFeatureIndex,
    load: Callable[[int], LocalFeatures],
    k: int = 12,
    *,
    mirrored: bool | None = None,
    query: LocalFeatures | None = None,
    query_mirrored: LocalFeatures | None = None,
    prefetch: Callable[[list[int]], None] | None = None,
    second_look: bool = True,
    framed_look: bool = True,
    screen_look: bool | None = None,
    other_copies: bool = True,
    original_size: tuple[int, int] | None = None,
    propose: Callable[[Image.Image], list[Proposal]] | None = None,
    looked: Looked | None = None,
    parts_among: Callable[[list[int]], set[int]] | None = None,
    sources_of: Callable[[list[int]], dict[int, list[int]]] | None = None,
) -> list[LocalMatch]:
    """Find indexed pictures shown in `query_image`; verified matches, best first.

    Extracts query features at the query working size (bounded by area, so a
    picture inside a tall phone screenshot keeps its detail); the index
    proposes SHORTLIST candidates, whose stored features `load(item_id)` fetches;
    the best k of them by exact descriptor votes are verified.  The mirror image of the query is searched too when
    `mirrored` is True, never when False, and by default (None) only when the
    query itself matched nothing: a query showing one picture upright and
    another mirrored then reports only the upright one, but the common case
    costs one index search instead of two (~70 ms at 10,000 items). Unless `mirrored` is False,
    each later look of MIRRORED_LOOKS that found nothing (the crop look, a screen, the picture
    framed on it, a collage's cell) is taken mirrored too: a mirrored picture cropped, in a post
    on a photographed screen, or in a grid.
    `query` and `query_mirrored`, when given, are those features precomputed
    (a scan's workers do it: prints.QueryFeatures). `prefetch`, when given, is told each
    shortlist before `load` is asked for its items one by one (a ledger fetches them at once).
    With `second_look`, a query that matched nothing either way has the first look's next
    DEEPER_SHORTLIST candidates verified too, then, if many of its keypoints are weak corners,
    its strong corners searched alone (see STRONG_LOOK_WEAK_SHARE); it is then searched once more
    at the index's scale (local_features.QUERY_SHORT_SIDE) when that differs from its working
    scale by more than SECOND_LOOK_MIN_CHANGE: crops, small copies and photos of screens; then, if
    still nothing, at the scale at which the index saw a part of an original (QUERY_CROP_SIDE),
    when that differs from both: crops of a portrait picture, or of one with little texture. With
    `framed_look`, a query that still matched nothing is searched once more for the picture
    framed in it (framing.framed_picture: the photo of a screenshot, a picture on a flat page),
    on its own, with the whole keypoint budget for it rather than a share left by the text around it;
    with both `second_look` and `framed_look` (or with `screen_look` True, whatever they are; never
    with it False), a query that still matched nothing is searched for
    the picture on a screen photographed at an angle (screen.screen_picture), straightened and at
    the index's scale, unless that screen covers the picture framed in it, already searched
    (the screen look; its figures are in the comment after STRONG_LOOK_WEAK_SHARE), and then for
    the picture framed in the page that screen shows (framing.framed_on_screen: a photo of a
    social-media post on a phone). With `framed_look`, each picture of a collage
    (collage.collage_cells) that no match covers and no framed look searched is searched on its
    own (the cell look), matched or not: a scan takes it too, so that a "photo report" grid in an
    archive is linked to each picture it re-publishes.
    A weak match that spreads over the page around the picture of a photographed post, and beyond
    the phone's screen, but has too few inliers on that picture is refused (PAGE_PICTURE_SHARE),
    in every look.
    With `propose`, each later look at a part of the query (the framed picture, the screen's
    picture, the picture framed on it, a collage's cell) also verifies the items that `propose`
    finds near that part's picture by a global hash (the matcher: PDQ), however low the words rank
    them: a photographed screen's moire, blur and noise move most of its descriptors out of
    their words, but barely move the picture's global hash.
    With `other_copies`, the indexed copies of what the query matched are looked for too (see
    OTHER_COPIES_FROM): a query that matched a stamped copy also finds the original it was made
    from, when the query's own looks ranked that original too low or verified it too narrowly.
    Geometry and evidence are in the pixels of the query's file, of `original_size`, when
    `query_image` is a reduced copy of it (precomputed features must say the same). `looked`, what
    looking for `query_image`'s parts found in it (a scan's worker looked: parts.search_parts), is
    taken instead of looking for the framed picture or the photographed screen again.
    `parts_among`, when given, says which of some item ids are parts (parts.py), so that parts
    take none of the k places of a look (PART_PLACES).
    `sources_of`, when given, says where some indexed items came from (each one's ancestors in its
    work's chain, nearest first): the query is verified against the sources of what it matched too,
    up to CHAIN_SOURCES of them, so that it is linked to the picture its copies were made from.
    """
    size = tuple(original_size or query_image.size)
    whole = {"first": query if query is not None else _query_features(query_image, size)}
    loaded: dict[int, LocalFeatures] = {}
    best: dict[int, LocalMatch] = {}
    looks: list[_Look] = []  # every look made, in order
    found_in: dict[int, _Look] = {}  # the look that verified each match

    def whole_query(scale: str) -> LocalFeatures:
        """The whole query's features at one of _LOOK_SCALES, extracted once."""
        if scale not in whole:
            whole[scale] = _query_features(query_image, size, scale)
        return whole[scale]

    def fetch(item_ids: list[int]) -> None:
        if prefetch is not None:
            prefetch([i for i in item_ids if i not in loaded])
        for item_id in item_ids:
            if item_id not in loaded:
                loaded[item_id] = load(item_id)

    seen = PhotographedScreen(query_image, size, looked)  # the screen look and the screen rules ask

    def verify_in(look: _Look, item_id: int) -> LocalMatch | None:
        match = _verify_placed(look, loaded[item_id], item_id, size)
        return None if match is None or _screen_refusal(match, look, loaded[item_id], seen) else match

    def verify_later_look(look: _Look) -> None:
        """A later look, then its mirror image when it found nothing (MIRRORED_LOOKS)."""
        found = len(best)
        verify_candidates(look)
        if len(best) == found and mirrored is not False and look.name in MIRRORED_LOOKS:
            verify_candidates(replace(look, features=extract_mirrored(look.features), mirrored=True))

    def verify_candidates(look: _Look, shortlist: list[int] | None = None) -> None:
        looks.append(look)
        if shortlist is None:
            proposed = SECOND_LOOK_SHORTLIST if look.second else SHORTLIST
            shortlist = [item_id for item_id, _ in index.candidates(look.features, max(k, proposed))]
        fetch(shortlist)
        scored = rerank(look.features, {i: loaded[i] for i in shortlist}, len(shortlist))
        ranked = _places(scored, k, parts_among)
        # then the items near the part's picture by its global hash, in this look's orientation
        hashed = {hit.item_id: hit.distance for hit in look.proposed
                  if hit.mirrored == look.mirrored and hit.item_id not in ranked}
        fetch(list(hashed))
        for item_id in ranked + list(hashed):
            if item_id in best:
                continue  # already found (unmirrored)
            match = verify_in(look, item_id)
            if match is not None:
                match.proposed_by_hash = hashed.get(item_id)
                best[item_id], found_in[item_id] = match, look

    def by_hash(picture: Image.Image) -> tuple[Proposal, ...]:
        """What `propose` finds near a part's picture (nothing without it)."""
        return () if propose is None else tuple(propose(picture))

    first = _Look(whole["first"], False)
    deeper = DEEPER_SHORTLIST if second_look else 0
    proposed = [item_id for item_id, _ in index.candidates(first.features, max(k, SHORTLIST + deeper))]
    verify_candidates(first, proposed[:max(k, SHORTLIST)])
    if mirrored or (mirrored is None and not best):
        features = query_mirrored if query_mirrored is not None else extract_mirrored(whole["first"])
        verify_candidates(_Look(features, True))
    if not best and proposed[max(k, SHORTLIST):]:
        # deeper: the first look's next candidates, which the words ranked below the shortlist
        verify_candidates(first, proposed[max(k, SHORTLIST):])
    weak = first.features.weak_corners
    if second_look and not best and weak and weak >= STRONG_LOOK_WEAK_SHARE * len(first.features):
        # strong: the first look without the weak corners, which on a noisy query are its noise
        verify_candidates(_Look(_query_features(query_image, size, weak_corners=False), False, strong=True))
    if second_look and not best:
        # sized first: a look barely different from one already made is not worth extracting
        for scale in ("index", "crop"):
            if best:
                break
            if _close_to_a_look(query_image.size, scale, looks):
                continue
            verify_later_look(_Look(whole_query(scale), False, scale=scale))  # mirrored: the crop look
    framed = None
    if framed_look and not best:
        framed = _framed_features(query_image, size, looked)
        if framed is not None:
            verify_later_look(_Look(framed.features, False, frame=framed.box, proposed=by_hash(framed.picture)))
    if (second_look and framed_look if screen_look is None else screen_look) and not best:
        on_screen = _screen_features(seen, framed.box if framed is not None else None)
        if on_screen is not None:
            features, screen = on_screen
            verify_later_look(_Look(features, False, screen=screen, proposed=by_hash(seen.straightened)))
            framed_there = None if best else _framed_on_screen_features(seen, screen)
            if framed_there is not None:
                verify_later_look(_Look(framed_there.features, False, frame=framed_there.box, screen=screen,
                                        proposed=by_hash(framed_there.picture)))
    if framed_look:
        searched = [framed.box] if framed is not None else []
        for cell in _cells_to_search(query_image, size, list(best.values()), searched):
            verify_later_look(_Look(cell.features, False, frame=cell.box, cell=True, proposed=by_hash(cell.picture)))

    def copy_looks(look: _Look):
        """The look that found a match, then the whole query at the scales not yet looked at."""
        yield look
        if look.frame is not None or look.screen is not None:
            return
        for scale in _LOOK_SCALES:
            if scale != look.scale and not _close_to_a_look(query_image.size, scale, [look]):
                features = whole_query(scale)
                yield _Look(extract_mirrored(features) if look.mirrored else features, look.mirrored, scale=scale)

    def verify_copy(item_id: int, source_id: int) -> None:
        """Verify another copy of the picture the match on `source_id` shows, in copy_looks."""
        for look in copy_looks(found_in[source_id]):
            match = verify_in(look, item_id)
            if match is not None:
                match.found_via = source_id
                best[item_id], found_in[item_id] = match, look
                return

    if other_copies and best:
        for source in sorted(best.values(), key=_strongest_first)[:OTHER_COPIES_FROM]:
            stored = loaded[source.item_id]
            shortlist = [item_id for item_id, _ in index.candidates(stored, OTHER_COPIES_SHORTLIST + 1)
                         if item_id != source.item_id]  # itself would be every descriptor's nearest
            fetch(shortlist)
            for item_id, score in rerank(stored, {i: loaded[i] for i in shortlist}, OTHER_COPIES_VERIFIED):
                if score < MIN_CANDIDATE_SCORE or item_id in best:
                    continue
                if verify(stored, loaded[item_id], item_id) is not None:  # a copy of the picture matched
                    verify_copy(item_id, source.item_id)
    if sources_of is not None and best:
        matched = sorted(best.values(), key=_strongest_first)
        sources = sources_of([m.item_id for m in matched])
        wanted: dict[int, int] = {}  # source to verify -> the match that leads to it
        for m in matched:
            for item_id in sources.get(m.item_id, ()):
                if len(wanted) < CHAIN_SOURCES and item_id not in best and item_id not in wanted and item_id in index:
                    wanted[item_id] = m.item_id
        fetch(list(wanted))
        for item_id, source_id in wanted.items():
            verify_copy(item_id, source_id)
    return sorted(best.values(), key=_strongest_first)


def _strongest_first(match: LocalMatch) -> tuple[int, int]:
    """Sort key of matches: most inliers first, then by item id."""
    return -match.inliers, match.item_id


def _places(scored: list[tuple[int, float]], k: int,
            parts_among: Callable[[list[int]], set[int]] | None) -> list[int]:
    """The candidates a look verifies, best first: of those scoring MIN_CANDIDATE_SCORE or more
    (fewer votes are not worth verifying), the k best that are not parts, and the parts ranked
    above the last of them, up to PART_PLACES (see there); without `parts_among`, the k best."""
    worth = [item_id for item_id, score in scored if score >= MIN_CANDIDATE_SCORE]
    if parts_among is None:
        return worth[:k]
    parts = parts_among(worth)
    ranked, wholes, part_places = [], 0, PART_PLACES
    for item_id in worth:
        if wholes == k:
            break
        if item_id not in parts:
            wholes += 1
        elif part_places:
            part_places -= 1
        else:
            continue  # a part beyond PART_PLACES
        ranked.append(item_id)
    return ranked


@dataclass
class LookFigures:
    """How one look at a query fares against one indexed picture (see explain): the figures that
    verify weighs, and why it refuses the pair (`refusal`; None when that look verifies it)."""

    # "first", "mirrored", "strong", "index", "crop", "framed", "screen", "framed_on_screen", "cell",
    # or one of MIRRORED_LOOKS followed by " mirrored"
    look: str
    working_size: tuple[int, int]
    refusal: str | None
    inliers: int = 0
    descriptor_matches: int = 0
    inlier_ratio: float = 0.0
    visible_share: float = 0.0
    hull_share: float = 0.0
    blocks_compared: int = 0
    block_share: float = 0.0
    detail_ncc: float = 0.0
    #: When the look was tried against a part of the indexed item (parts.py), that part's item id.
    part_item_id: int | None = None

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field."""
        return asdict(self)


def explain(query_image: Image.Image, candidate: LocalFeatures,
            original_size: tuple[int, int] | None = None) -> list[LookFigures]:
    """Verify a query against one indexed picture in every look search can take: explain_each
    for one picture."""
    return explain_each(query_image, [candidate], original_size)[0]


def explain_each(query_image: Image.Image, candidates: Sequence[LocalFeatures],
                 original_size: tuple[int, int] | None = None) -> list[list[LookFigures]]:
    """Verify a query against each of some indexed pictures (a post and its parts) in every look
    search can take (first, mirrored, its strong corners, at the index's scale, at a crop's, the
    framed picture, the picture on a photographed screen, the picture framed in that screen's page,
    each picture of a collage, and the mirror image of each of MIRRORED_LOOKS), whether or not
    search would take it (a scale that gives an earlier look's size again is left out, and the
    strong look when the first has no weak corners): for each picture, the figures of each look
    and why it is refused.
    The answer to an investigator's "why is this not a match?" (or "how strong is it?"); each
    look decides exactly as search does, the rules on photographed screens included
    (PAGE_REFUSAL, SCREEN_REFUSAL). The query's looks are described once for all the pictures."""
    size = tuple(original_size or query_image.size)
    first = _query_features(query_image, size)
    looks = [("first", _Look(first, False)), ("mirrored", _Look(extract_mirrored(first), True))]
    if first.weak_corners:
        looks.append(("strong", _Look(_query_features(query_image, size, weak_corners=False), False, strong=True)))
    for scale in ("index", "crop"):
        sizes = [look.features.working_size for _, look in looks]
        if working_size(query_image.size, for_query=True, **_LOOK_SCALES[scale]) not in sizes:
            looks.append((scale, _Look(_query_features(query_image, size, scale), False, scale=scale)))
    framed = _framed_features(query_image, size)
    if framed is not None:
        looks.append(("framed", _Look(framed.features, False, frame=framed.box)))
    seen = PhotographedScreen(query_image, size)
    on_screen = _screen_features(seen)
    if on_screen is not None:
        features, screen = on_screen
        looks.append(("screen", _Look(features, False, screen=screen)))
        framed_there = _framed_on_screen_features(seen, screen)
        if framed_there is not None:
            looks.append(("framed_on_screen", _Look(framed_there.features, False, frame=framed_there.box,
                                                    screen=screen)))
    looks += [("cell", _Look(cell.features, False, frame=cell.box, cell=True))
              for cell in _cells_to_search(query_image, size, [], [])]
    looks += [(f"{name} mirrored", replace(look, features=extract_mirrored(look.features), mirrored=True))
              for name, look in looks if name in MIRRORED_LOOKS]
    each = []
    for candidate in candidates:
        figures = []
        for name, look in looks:
            figure = _figures(name, look.features, candidate)
            if figure.refusal is None:  # verify takes it: would search, knowing the screen?
                match = _verify_placed(look, candidate, 0, size)
                if match is not None:
                    figure.refusal = _screen_refusal(match, look, candidate, seen)
            figures.append(figure)
        each.append(figures)
    return each


def _query_features(query_image: Image.Image, size: tuple[int, int], scale: str = "first", *,
                    weak_corners: bool = True) -> LocalFeatures:
    """The whole query's features as a look describes it: at one of _LOOK_SCALES, with its weak
    corners or (the strong look) without; `size` is the file's, as in search."""
    return extract(query_image, for_query=True, keep_working=True, original_size=size,
                   weak_corners=weak_corners, **_LOOK_SCALES[scale])


class PhotographedScreen:
    """The screen photographed in a query (screen.screen_picture, in `image`'s pixels), its picture
    straightened, and the picture framed in the page it shows (framing.framed_on_screen): each
    found once, when first asked for (the screen looks and _screen_refusal; parts.py cuts an
    indexed image's part so too).
    `size` is the query file's, when `image` is a reduced copy of it; `looked`, what looking for
    the image's parts found in it (the screen, when it was looked for, is not looked for again)."""

    def __init__(self, image: Image.Image, size: tuple[int, int], looked: Looked | None = None):
        self.image = image
        self.factor = size[0] / image.width  # from `image`'s pixels to the file's
        if looked is not None and looked.at_screen:
            self.__dict__["screen"] = looked.screen  # the cached property, found already

    @cached_property
    def screen(self) -> Screen | None:
        return screen_picture(self.image)

    @cached_property
    def in_file(self) -> Screen | None:
        """The screen in the file's pixels."""
        screen = self.screen
        if screen is None:
            return None
        return Screen(tuple((x * self.factor, y * self.factor) for x, y in screen.corners), screen.share)

    @cached_property
    def straightened(self) -> Image.Image:
        return self.screen.straightened(self.image)

    @cached_property
    def page_frame(self) -> Frame | None:
        return framed_on_screen(self.straightened)

    @cached_property
    def page(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The quadrilateral, in the file's pixels, of the picture framed in the page on the screen
        (a post's photograph on a phone), and that screen's; None when there is no such picture."""
        if self.screen is None or self.page_frame is None:
            return None
        left, top, right, bottom = self.page_frame.box
        corners = np.float64([[[left, top], [right, top], [right, bottom], [left, bottom]]])
        return ((cv2.perspectiveTransform(corners, self.screen.to_image())[0] * self.factor).astype(np.float32),
                np.float32(self.in_file.corners))


def _screen_features(seen: PhotographedScreen, frame: list[float] | None = None
                     ) -> tuple[LocalFeatures, Screen] | None:
    """The features of the picture on the screen photographed in the query (`seen`), straightened
    and described at the index's scale, and that screen in the file's pixels; None when no screen
    is found, or when it covers `frame` (a box in the file's pixels: the picture framed in the
    query, which the framed look searched)."""
    in_file = seen.in_file
    if in_file is None or (frame is not None and _covers_frame(in_file, frame)):
        return None
    return _query_features(seen.straightened, in_file.size(), "index"), in_file


def _framed_on_screen_features(seen: PhotographedScreen, screen: Screen) -> _Part | None:
    """The picture framed in the page the photographed screen shows (`seen`), described on its
    own, its box in the pixels of `screen`'s straightened picture (Screen.size; `screen` in the
    file's pixels); None when no picture is framed there."""
    frame = seen.page_frame
    return None if frame is None else _part_features(seen.straightened, screen.size(), frame.box)


def _verify_placed(look: _Look, candidate: LocalFeatures, item_id: int, size: tuple[int, int]
                   ) -> LocalMatch | None:
    """verify in one look, the match expressed in the whole query's pixels (`size`, the file's):
    a framed part's or a screen's geometry carried back into the query."""
    match = verify(look.features, candidate, item_id, mirrored=look.mirrored)
    if match is not None:
        match.second_look, match.look = look.second, look.name
        if look.screen is not None:
            _place_on_screen(match, look.screen, candidate.original_size, size, look.frame)
        elif look.frame is not None:
            _place_in_frame(match, look.frame)
    return match


def _screen_refusal(match: LocalMatch, look: _Look, candidate: LocalFeatures,
                    seen: PhotographedScreen) -> str | None:
    """Why search refuses a match that verify took, from the screen photographed in the query
    (`seen`), or None: a weak one (under CONSISTENCY_INLIERS) matches the page around the picture of
    a photographed post, not the picture (_only_around); a match of the whole query matches
    another photographed screen whose content disagrees (_screen_content_disagrees)."""
    if match.inliers < CONSISTENCY_INLIERS and _only_around(match, seen.page):
        return PAGE_REFUSAL
    if look.frame is None and look.screen is None and _screen_content_disagrees(match, look, candidate, seen):
        return SCREEN_REFUSAL
    return None


def _screen_content_disagrees(match: LocalMatch, look: _Look, candidate: LocalFeatures,
                              seen: PhotographedScreen) -> bool:
    """Whether a match of the whole query spreads beyond the screen photographed in it (the original
    is a photo of a screen too: PAGE_ON_SCREEN) yet disagrees in fine detail on what that screen
    shows (MIN_SCREEN_DETAIL_NCC): it matched the phone and its interface, not the picture."""
    screen = seen.in_file
    if screen is None:
        return False
    corners = np.float32(screen.corners)
    if not _beyond_screen(np.float32(match.quad_in_query), corners):
        return False
    shown = (_shrunk(corners, SCREEN_DETAIL_INNER) if seen.page is None
             else _shrunk(seen.page[0], PAGE_PICTURE_INNER))
    h_look = np.array(match.homography)  # original -> the (unmirrored) query's pixels
    if look.mirrored:  # into the mirror image's pixels, which the look's features describe
        flip = _mirror(look.features.original_size[0])
        h_look, shown = flip @ h_look, _project(flip, shown)
    warped, valid = _warp_query_to_template(look.features, candidate, h_look)
    template = candidate.template.astype(np.float32)
    (th, tw), (ow, oh) = template.shape, candidate.original_size
    in_template = _project(np.linalg.inv(h_look @ _pixel_scale(ow / tw, oh / th)), shown)
    on_shown = np.zeros((th, tw), np.uint8)
    cv2.fillPoly(on_shown, [np.int32(np.round(in_template))], 1)
    return _detail_ncc(template, warped.astype(np.float32), valid & (on_shown > 0)) < MIN_SCREEN_DETAIL_NCC


def _only_around(match: LocalMatch, page: tuple[np.ndarray, np.ndarray] | None) -> bool:
    """Whether a match spreads over the page around the page's picture and beyond its screen (see
    PhotographedScreen.page), covering the picture's middle, with its inliers on the screen but fewer than
    PAGE_PICTURE_SHARE of them inside the picture (less its edges, PAGE_PICTURE_INNER): it matched
    the page, not the picture."""
    if page is None or not match.correspondences:
        return False
    picture, screen = page
    quad = np.float32(match.quad_in_query)
    middle = picture.mean(axis=0)
    if (cv2.contourArea(quad) < PAGE_BEYOND_PICTURE * cv2.contourArea(picture)
            or cv2.pointPolygonTest(quad, tuple(float(v) for v in middle), False) < 0):
        return False
    if not _beyond_screen(quad, screen):
        return False
    points = [(float(x), float(y)) for _, (x, y) in match.correspondences]
    if _inside(screen, points) < PAGE_INLIERS_ON_SCREEN * len(points):
        return False
    return _inside(_shrunk(picture, PAGE_PICTURE_INNER), points) < PAGE_PICTURE_SHARE * len(points)


def _beyond_screen(quad: np.ndarray, screen: np.ndarray) -> bool:
    """Whether a match's outline in the query (`quad`) spreads beyond the photographed `screen`:
    at most PAGE_ON_SCREEN of it lies on the screen (the original shows more than the screen)."""
    on_screen, _ = cv2.intersectConvexConvex(quad, screen) if cv2.isContourConvex(quad) else (0.0, None)
    return on_screen <= PAGE_ON_SCREEN * cv2.contourArea(quad)


def _shrunk(polygon: np.ndarray, share: float) -> np.ndarray:
    """`polygon` shrunk to `share` of its size about its middle (its vertices' mean)."""
    middle = polygon.mean(axis=0)
    return (middle + (polygon - middle) * share).astype(np.float32)


def _inside(polygon: np.ndarray, points: list[tuple[float, float]]) -> int:
    """How many of `points` lie inside `polygon` or on its edge."""
    return sum(cv2.pointPolygonTest(polygon, point, False) >= 0 for point in points)


def _covers_frame(screen: Screen, box: list[float]) -> bool:
    """Whether the screen's outline covers SCREEN_COVERS_FRAME of the box: it is the framed
    picture again, or a card around it. A monitor framed on a plain wall leaves its bezel out."""
    x0, y0, x1, y1 = box
    rect = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    common, _ = cv2.intersectConvexConvex(np.float32(screen.corners), rect)
    return common >= SCREEN_COVERS_FRAME * max(1.0, (x1 - x0) * (y1 - y0))


def _framed_features(query_image: Image.Image, size: tuple[int, int], looked: Looked | None = None
                     ) -> _Part | None:
    """The picture framed in the query (framing.framed_picture, unless `looked` found it already),
    described on its own, its box in the file's pixels (`size`); None when no picture is framed in it."""
    frame = looked.frame if looked is not None else framed_picture(query_image)
    return None if frame is None else _part_features(query_image, size, frame.box)


def _cells_to_search(query_image: Image.Image, size: tuple[int, int], matches: list[LocalMatch],
                     searched: list[list[float]]) -> list[_Part]:
    """Each picture of a collage in the query (collage.collage_cells), described on its own, its
    box in the file's pixels, but for cells whose centre lies in a match's quadrilateral or in a box
    already `searched` (in the file's pixels): those pictures are found, or were looked for."""
    found = [np.float32(m.quad_in_query) for m in matches]
    factor = size[0] / query_image.width
    parts = []
    for cell in collage_cells(query_image):
        x, y = (cell.left + cell.right) / 2 * factor, (cell.top + cell.bottom) / 2 * factor
        if any(cv2.pointPolygonTest(quad, (x, y), False) >= 0 for quad in found):
            continue
        if any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in searched):
            continue
        parts.append(_part_features(query_image, size, cell.box))
    return parts


class _Part(NamedTuple):
    """One part of a query that a later look searches on its own: a framed picture, a collage's
    cell, the picture framed in a straightened screen."""

    features: LocalFeatures
    box: list[float]  # in the pixels of the file, or of the straightened screen at the file's scale
    picture: Image.Image  # the part's pixels, for its global hash (search, `propose`)


def _part_features(query_image: Image.Image, size: tuple[int, int], box: tuple[int, int, int, int]) -> _Part:
    """One part of the query (`box` in `query_image`'s pixels), described on its own, and that box
    in the pixels of `size` (the file's, or the straightened screen's at the file's scale)."""
    in_file = [v * size[0] / query_image.width for v in box]
    picture = query_image.crop(box)
    return _Part(extract(picture, for_query=True, keep_working=True,
                         original_size=(round(in_file[2] - in_file[0]), round(in_file[3] - in_file[1]))),
                 in_file, picture)


def _figures(look: str, query: LocalFeatures, candidate: LocalFeatures) -> LookFigures:
    """verify's figures and decision for one look, kept whatever the outcome."""
    geometry = _geometric_check(query, candidate)
    if geometry is None:
        return LookFigures(look, query.working_size, "no consistent geometry")  # under MIN_INLIERS
    h_work, src, _, n_matches = geometry
    h_orig = _to_original(h_work, query, candidate)
    visible = _visible_region(h_orig, query.original_size, candidate.original_size)
    if visible is None:
        return LookFigures(look, query.working_size, "original not in the query",
                           inliers=len(src), descriptor_matches=n_matches)
    share, compared, _, _, detail = _block_agreement(query, candidate, h_orig)
    ratio, hull = len(src) / max(1, n_matches), _hull_share(src, candidate.working_size)
    return LookFigures(
        look, query.working_size, refusal(len(src), ratio, visible[1], hull, compared, share, detail),
        inliers=len(src), descriptor_matches=n_matches, inlier_ratio=round(ratio, 4),
        visible_share=round(float(visible[1]), 4), hull_share=round(hull, 4), blocks_compared=compared,
        block_share=round(share, 4), detail_ncc=round(detail, 4))


# Each look's working scale (local_features.working_size keywords).
_LOOK_SCALES = {"first": {}, "index": {"at_index_scale": True}, "crop": {"at_crop_scale": True}}


@dataclass(frozen=True)
class Proposal:
    """An indexed item whose global hash lies near a part of a query: a candidate for that part's
    look (search, `propose`), upright or through the part's mirror image."""

    item_id: int
    mirrored: bool
    distance: int


@dataclass
class _Look:
    """One description of the query that search verified candidates with."""

    features: LocalFeatures
    mirrored: bool
    scale: str = "first"  # which of _LOOK_SCALES, for the whole query
    # the framed picture's box in the file's pixels for a framed look; in the straightened
    # screen's (Screen.size) for the framed-on-screen look
    frame: list[float] | None = None
    strong: bool = False  # described by its strong corners only (the strong look)
    screen: Screen | None = None  # the screen's picture, for the screen look (in the file's pixels)
    cell: bool = False  # `frame` is a picture of a collage (the cell look)
    proposed: tuple[Proposal, ...] = ()  # items near the part's picture by a global hash (search)

    @property
    def name(self) -> str:
        """The look as evidence names it (LocalMatch.look)."""
        if self.screen is not None:
            return "screen" if self.frame is None else "framed_on_screen"
        if self.frame is not None:
            return "cell" if self.cell else "framed"
        return "strong" if self.strong else self.scale

    @property
    def second(self) -> bool:
        """A later look than the first (LocalMatch.second_look; it proposes more candidates)."""
        return self.name != "first"


def _close_to_a_look(size: tuple[int, int], scale: str, looks: list[_Look]) -> bool:
    """Whether the whole query at `scale` is within SECOND_LOOK_MIN_CHANGE of the width of a
    whole-query look already made (not worth extracting again)."""
    width = working_size(size, for_query=True, **_LOOK_SCALES[scale])[0]
    return any(abs(width / max(1, look.features.working_size[0]) - 1.0) <= SECOND_LOOK_MIN_CHANGE
               for look in looks if look.frame is None and look.screen is None)


def _place_in_frame(match: LocalMatch, box: list[float]) -> None:
    """Express a match found in the picture framed in the query in the whole query's pixels."""
    _into_query(match, _translation(box[0], box[1]))
    match.framed_in = [round(v, 2) for v in box]
    if "framed" not in match.edits:  # it fills the frame, but the frame is in a query
        match.edits.insert(1 if "cropped" in match.edits else 0, "framed")


def _place_on_screen(match: LocalMatch, screen: Screen, candidate_size: tuple[int, int],
                     query_size: tuple[int, int], box: list[float] | None = None) -> None:
    """Express a match found in a screen's straightened picture, or in the `box` framed in it
    (in the straightened picture's pixels), in the whole query's pixels: its geometry goes through
    the straightening's homography, and what depends on the geometry (the part of the original
    visible, and the edits cropped, framed, rotated, scaled, perspective) is told again from the
    whole query (the outline straightened may have cut off an edge)."""
    to_query = screen.to_image()
    if box is not None:
        to_query = to_query @ _translation(box[0], box[1])
    h_orig = _into_query(match, to_query)
    rotation, scale = _rotation_and_scale(h_orig, candidate_size)
    match.rotation_deg, match.scale = round(rotation, 2), round(scale, 4)
    match.screen_in = [[round(x, 2), round(y, 2)] for x, y in screen.corners]
    visible = _visible_region(h_orig, query_size, candidate_size)
    if visible is not None:
        match.visible_in_original = [round(float(v), 2) for v in visible[0]]
        match.visible_share = round(float(visible[1]), 4)
    match.edits = (_geometric_edits(match, True, h_orig, candidate_size)
                   + [edit for edit in match.edits if edit not in _GEOMETRIC_EDITS])


def _translation(x: float, y: float) -> np.ndarray:
    """The homography that moves a part's pixels to where the part lies, at (x, y)."""
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def _into_query(match: LocalMatch, to_query: np.ndarray) -> np.ndarray:
    """Express the query side of a match found in a part of the query (a frame, a straightened
    screen) in the whole query's pixels, `to_query` taking that part's pixels to the query's;
    returns the match's new homography (original to query)."""
    h_orig = to_query @ np.array(match.homography)
    h_orig /= h_orig[2, 2]
    match.homography = [[float(v) for v in row] for row in h_orig]
    match.quad_in_query = [[round(float(x), 2), round(float(y), 2)]
                           for x, y in _project(to_query, match.quad_in_query)]
    if match.correspondences:
        on_query = _project(to_query, [q for _, q in match.correspondences])
        match.correspondences = [[orig, [round(float(x), 2), round(float(y), 2)]]
                                 for (orig, _), (x, y) in zip(match.correspondences, on_query)]
    return h_orig


# --- geometry ----------------------------------------------------------------

def _geometric_check(query: LocalFeatures, candidate: LocalFeatures):
    """Ratio-test matches and a MAGSAC homography in WORKING pixels.

    Returns (homography candidate->query, inlier points in the candidate,
    inlier points in the query, number of matches), or None.
    """
    if len(query) < 2 or len(candidate) < MIN_INLIERS:
        return None
    cand_idx, query_idx = _ratio_matches(candidate.descriptors, query.descriptors)
    if len(cand_idx) < MIN_INLIERS:
        return None
    src = candidate.points[cand_idx].astype(np.float64)
    dst = query.points[query_idx].astype(np.float64)
    homography, mask = cv2.findHomography(
        src, dst, cv2.USAC_MAGSAC, RANSAC_THRESHOLD, maxIters=2000, confidence=0.999
    )
    if homography is None or mask is None:
        return None
    inliers = mask.ravel().astype(bool)
    if inliers.sum() < MIN_INLIERS:
        return None
    if not _plausible(homography, candidate.working_size):
        return None
    return homography, src[inliers], dst[inliers], len(src)


def _ratio_matches(candidate: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate->query nearest neighbours passing the ratio test, one per query point.

    Uses an exact faiss binary scan (~10x faster than OpenCV's BFMatcher here).
    """
    if len(query) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    index = faiss.IndexBinaryFlat(query.shape[1] * 8)
    index.add(np.ascontiguousarray(query))
    distances, neighbours = index.search(np.ascontiguousarray(candidate), 2)
    distances = distances.astype(np.float32)
    good = (distances[:, 0] <= MAX_MATCH_DISTANCE) & (distances[:, 0] < RATIO * distances[:, 1])
    cand_idx = np.flatnonzero(good)
    query_idx = neighbours[good, 0]
    # keep, for each query point, only its closest candidate point
    order = np.lexsort((distances[good, 0], query_idx))
    first = np.ones(len(order), bool)
    first[1:] = query_idx[order][1:] != query_idx[order][:-1]
    keep = order[first]
    return cand_idx[keep], query_idx[keep].astype(np.int64)


def _plausible(homography: np.ndarray, size: tuple[int, int]) -> bool:
    """Orientation kept, scale bounded, perspective mild over the whole original."""
    corners = _corners(size)
    denominators = corners @ homography[2, :2] + homography[2, 2]
    if np.any(denominators <= 1e-6):
        return False  # the horizon crosses the original: not a picture of it
    scales = np.array([_local_scale(homography, x, y) for x, y in corners])
    if np.any(scales <= 0):
        return False  # mirrored or folded
    scale = math.sqrt(float(np.median(scales)))
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
        return False
    quad = _project(homography, corners)
    return _is_convex(quad) and math.sqrt(scales.max() / scales.min()) <= MAX_SCALE_SPREAD


def _local_scale(homography: np.ndarray, x: float, y: float) -> float:
    """Signed area scale (Jacobian determinant) of the homography at (x, y)."""
    h = homography
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    u = h[0, 0] * x + h[0, 1] * y + h[0, 2]
    v = h[1, 0] * x + h[1, 1] * y + h[1, 2]
    jacobian = np.array([
        [(h[0, 0] * w - u * h[2, 0]), (h[0, 1] * w - u * h[2, 1])],
        [(h[1, 0] * w - v * h[2, 0]), (h[1, 1] * w - v * h[2, 1])],
    ]) / (w * w)
    return float(np.linalg.det(jacobian))


def _is_convex(quad: np.ndarray) -> bool:
    """True when the 4-point polygon is convex and counter-rotation free."""
    signs = []
    for i in range(4):
        a, b, c = quad[i], quad[(i + 1) % 4], quad[(i + 2) % 4]
        signs.append((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]))
    return all(s > 0 for s in signs)


def _mirror(width: float) -> np.ndarray:
    """The left-right mirror of an image `width` pixels wide, as a homography (its own inverse)."""
    return np.array([[-1.0, 0.0, width], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _pixel_scale(sx: float, sy: float) -> np.ndarray:
    """Matrix from a grid's pixels to a grid `sx`, `sy` times finer (centres aligned)."""
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def _to_original(h_work: np.ndarray, query: LocalFeatures, candidate: LocalFeatures) -> np.ndarray:
    """Homography original->query in original pixels from one in working pixels."""
    to_query = _pixel_scale(*query.scale)
    from_candidate = np.linalg.inv(_pixel_scale(*candidate.scale))
    h = to_query @ h_work @ from_candidate
    return h / h[2, 2]


def _corners(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])


def _project(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(points, homography).reshape(-1, 2)


def _visible_region(h_orig: np.ndarray, query_size, candidate_size):
    """Bounding box and area share of the part of the original inside the query."""
    try:
        inverse = np.linalg.inv(h_orig)
    except np.linalg.LinAlgError:
        return None
    query_in_original = _project(inverse, _corners(query_size))
    if not _is_convex(query_in_original):
        return None
    polygon = _clip_to_rectangle(query_in_original, *candidate_size)
    if len(polygon) < 3:
        return None
    x, y = polygon[:, 0], polygon[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    box = [*polygon.min(axis=0), *polygon.max(axis=0)]
    return box, area / float(candidate_size[0] * candidate_size[1])


def _clip_to_rectangle(polygon: np.ndarray, width: float, height: float) -> np.ndarray:
    """Sutherland-Hodgman clipping of a polygon to [0, width] x [0, height]."""
    points = [tuple(p) for p in polygon]
    edges = ((0, 0.0, 1), (0, width, -1), (1, 0.0, 1), (1, height, -1))  # axis, bound, inside sign
    for axis, bound, sign in edges:
        clipped = []
        for i, current in enumerate(points):
            previous = points[i - 1]
            current_in = sign * (current[axis] - bound) >= 0
            previous_in = sign * (previous[axis] - bound) >= 0
            if current_in != previous_in:
                t = (bound - previous[axis]) / (current[axis] - previous[axis])
                clipped.append(tuple(previous[j] + t * (current[j] - previous[j]) for j in range(2)))
            if current_in:
                clipped.append(current)
        points = clipped
        if not points:
            break
    return np.array(points, dtype=np.float64).reshape(-1, 2)


def _hull_share(points: np.ndarray, size: tuple[int, int]) -> float:
    """Area of the points' convex hull over the area of the image."""
    hull = cv2.convexHull(points.astype(np.float32))
    return float(cv2.contourArea(hull)) / float(size[0] * size[1])


def _rotation_and_scale(h_orig: np.ndarray, size: tuple[int, int]) -> tuple[float, float]:
    """In-plane rotation (degrees, counter-clockwise on screen) and scale at the centre."""
    cx, cy = size[0] / 2.0, size[1] / 2.0
    a, b = _project(h_orig, [[cx, cy], [cx + 1.0, cy]])
    angle = -math.degrees(math.atan2(b[1] - a[1], b[0] - a[0]))
    scale = math.sqrt(abs(_local_scale(h_orig, cx, cy)))
    return angle, scale


def _correspondences(src, dst, query, candidate, mirrored) -> list[list[list[float]]]:
    """Up to MAX_CORRESPONDENCES inlier pairs [[x, y] original, [x, y] query]."""
    step = max(1, len(src) // MAX_CORRESPONDENCES)
    src_o = (src[::step][:MAX_CORRESPONDENCES] + 0.5) * np.array(candidate.scale) - 0.5
    dst_o = (dst[::step][:MAX_CORRESPONDENCES] + 0.5) * np.array(query.scale) - 0.5
    if mirrored:
        dst_o[:, 0] = query.original_size[0] - dst_o[:, 0]
    return [[[round(float(a), 1), round(float(b), 1)], [round(float(c), 1), round(float(d), 1)]]
            for (a, b), (c, d) in zip(src_o, dst_o)]


# --- appearance --------------------------------------------------------------

def _warp_query_to_template(query: LocalFeatures, candidate: LocalFeatures, h_orig: np.ndarray):
    """The query resampled onto the candidate's template grid, and a validity mask."""
    if query.working is not None:
        levels = query.pyramid or [query.working]
    else:
        levels = [query.template]
    template = candidate.template
    th, tw = template.shape
    ow, oh = candidate.original_size
    qw, qh = query.original_size
    base = levels[0]
    query_to_image = np.linalg.inv(_pixel_scale(qw / base.shape[1], qh / base.shape[0]))
    mapping = query_to_image @ h_orig @ _pixel_scale(ow / tw, oh / th)
    return _warp_from_pyramid(levels, mapping, (tw, th))


def _warp_from_pyramid(levels: list[np.ndarray], mapping: np.ndarray, size: tuple[int, int]):
    """Sample `levels[0]` on a grid of `size` through `mapping` (grid -> image pixels).

    Uses the pyramid level (each half the previous, cv2.pyrDown) at which a
    grid pixel spans one to two image pixels, so that the warp averages
    instead of aliasing.  Returns (warped image, boolean mask of grid pixels
    that fall inside the image).
    """
    shrink = math.sqrt(abs(_local_scale(mapping, size[0] / 2.0, size[1] / 2.0)))
    level = int(min(len(levels) - 1, max(0, math.floor(math.log2(max(shrink, 1.0))))))
    image = levels[level]
    mapping = np.diag([0.5 ** level, 0.5 ** level, 1.0]) @ mapping
    warped = cv2.warpPerspective(image, mapping, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inside = np.full(image.shape[:2], 255, np.uint8)
    mask = cv2.warpPerspective(inside, mapping, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return warped, mask > 0


def _blocks(array: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(rows, cols, BLOCK*BLOCK) blocks of a 2-D array, starting BLOCK_INSET in."""
    cut = array[BLOCK_INSET:BLOCK_INSET + rows * BLOCK, BLOCK_INSET:BLOCK_INSET + cols * BLOCK]
    return cut.reshape(rows, BLOCK, cols, BLOCK).transpose(0, 2, 1, 3).reshape(rows, cols, BLOCK * BLOCK)


def _block_agreement(query: LocalFeatures, candidate: LocalFeatures, h_orig: np.ndarray):
    """Share of informative template blocks whose NCC with the warped query agrees.

    A block is compared when MIN_BLOCK_COVERAGE of it lies inside the query
    and it is textured in the original (std >= FLAT_STD) or carries an
    overlay in the query (std less its slope >= OVERLAY_STD where the original
    is flat); it agrees when both are textured and their NCC over the valid
    pixels, with or without each block's slope, is at least BLOCK_NCC.
    Returns (share agreeing, blocks compared, gain, offset, detail) where
    gain/offset fit query = gain * original + offset over the overlap (for
    edit labels) and detail is the NCC of the fine detail over the overlap
    (see _detail_ncc).
    """
    warped, valid = _warp_query_to_template(query, candidate, h_orig)
    template = candidate.template.astype(np.float32)
    warped = warped.astype(np.float32)
    rows = (template.shape[0] - 2 * BLOCK_INSET) // BLOCK
    cols = (template.shape[1] - 2 * BLOCK_INSET) // BLOCK
    weight = _blocks(valid.astype(np.float32), rows, cols)
    count = weight.sum(axis=-1)
    covered = count >= MIN_BLOCK_COVERAGE * BLOCK * BLOCK
    count = np.maximum(count, 1.0)[..., None]
    a, b = _blocks(template, rows, cols), _blocks(warped, rows, cols)
    a = a - (a * weight).sum(axis=-1, keepdims=True) / count
    b = b - (b * weight).sum(axis=-1, keepdims=True) / count
    std_a, std_b, ncc = _weighted_ncc(a, b, weight, count[..., 0])
    level_a, level_b = _without_slope(np.stack([a, b]), weight)
    level_std_a, level_std_b, level_ncc = _weighted_ncc(level_a, level_b, weight, count[..., 0])
    compared = covered & ((std_a >= FLAT_STD) | (level_std_b >= OVERLAY_STD))
    agree = compared & (std_a >= FLAT_STD) & (std_b >= FLAT_STD) & (
        (ncc >= BLOCK_NCC) | ((level_std_a >= FLAT_STD) & (level_std_b >= FLAT_STD) & (level_ncc >= BLOCK_NCC)))
    n_compared = int(compared.sum())
    gain, offset = _linear_fit(template[valid], warped[valid])
    share = float(agree.sum()) / n_compared if n_compared else 0.0
    return share, n_compared, gain, offset, _detail_ncc(template, warped, valid)


def _weighted_ncc(a: np.ndarray, b: np.ndarray, weight: np.ndarray, count: np.ndarray):
    """Each pair of blocks' standard deviations and NCC over their weighted pixels (`a` and `b`
    centred, `count` the weights' sums)."""
    std_a = np.sqrt((a * a * weight).sum(axis=-1) / count)
    std_b = np.sqrt((b * b * weight).sum(axis=-1) / count)
    return std_a, std_b, (a * b * weight).sum(axis=-1) / count / np.maximum(std_a * std_b, 1e-6)


def _without_slope(blocks: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Blocks (from _blocks, any number of such grids stacked on a first axis) less the plane that
    best fits each over its weighted pixels: what is left of a smooth change of light (glare,
    vignetting) is nothing, of a logo, text or texture nearly all. (The fit is weighted: a block's
    pixels outside the query must not tilt it; the grids share the weights, so one normal matrix.)"""
    steps = np.arange(BLOCK, dtype=np.float32) - (BLOCK - 1) / 2
    xs, ys = np.tile(steps, BLOCK), np.repeat(steps, BLOCK)  # _blocks' pixel order: row by row
    terms = np.stack([np.ones_like(xs), xs, ys])  # (3, BLOCK*BLOCK)
    normal = np.einsum("ip,rcp,jp->rcij", terms, weight, terms) + 1e-3 * np.eye(3, dtype=np.float32)
    right = np.einsum("ip,...rcp->...rci", terms, blocks * weight)
    plane = np.linalg.solve(normal, right[..., None])[..., 0]
    return blocks - np.einsum("...rci,ip->...rcp", plane, terms)


def _detail_ncc(template: np.ndarray, warped: np.ndarray, valid: np.ndarray) -> float:
    """NCC of the difference-of-Gaussians (sigma 1 - sigma 3) images over the overlap.

    The overlap is eroded by 4 pixels so that the query's border (zeros outside it) does not
    count as detail; 0.0 when under 50 pixels remain.
    """
    inside = cv2.erode(valid.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    if inside.sum() <= 50:
        return 0.0

    def dog(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (0, 0), 1.0) - cv2.GaussianBlur(image, (0, 0), 3.0)

    a, b = dog(template)[inside], dog(warped)[inside]
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).mean() / max(float(a.std() * b.std()), 1e-6))


def _linear_fit(original: np.ndarray, query: np.ndarray) -> tuple[float, float]:
    """Least-squares gain and offset with query ~ gain * original + offset."""
    if original.size < 16 or original.std() < 1e-3:
        return 1.0, 0.0
    gain = float(np.cov(original, query, bias=True)[0, 1] / original.var())
    return gain, float(query.mean() - gain * original.mean())


# --- edit labels -------------------------------------------------------------

def _describe_edits(match: LocalMatch, query, candidate, quad, gain, offset, h_orig) -> list[str]:
    """Edits that the geometry and the thumbnails make evident."""
    query_area = float(query.original_size[0] * query.original_size[1])
    framed = _area_in_query(quad, query.original_size) < 0.9 * query_area
    edits = _geometric_edits(match, framed, h_orig, candidate.original_size)
    edits.extend(_colour_edits(query, candidate, h_orig, match.mirrored))
    if abs(math.log(max(gain, 1e-3))) > math.log(1.25):
        edits.append("contrast")
    if abs(offset + (gain - 1.0) * 128.0) > 20.0:
        edits.append("brightness")
    return edits


def _area_in_query(quad: np.ndarray, query_size: tuple[int, int]) -> float:
    """The area of the query that the original's outline covers: the query shows more than the
    original ("framed") when it is well under the query's, even if part of the original lies
    outside it (one picture of a collage matched in another collage)."""
    outline = quad.astype(np.float32).reshape(-1, 1, 2)
    w, h = query_size
    query = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32).reshape(-1, 1, 2)
    if not cv2.isContourConvex(outline):
        return abs(cv2.contourArea(outline))
    area, _ = cv2.intersectConvexConvex(outline, query)
    return float(area)


_GEOMETRIC_EDITS = ("cropped", "framed", "mirrored", "rotated", "scaled", "perspective")


def _geometric_edits(match: LocalMatch, framed: bool, h_orig: np.ndarray,
                     candidate_size: tuple[int, int]) -> list[str]:
    """The edits a match's geometry makes evident, in the order of _GEOMETRIC_EDITS."""
    evident = {"cropped": match.visible_share < CROPPED_BELOW, "framed": framed,
               "mirrored": match.mirrored, "rotated": abs(match.rotation_deg) >= ROTATED_BEYOND,
               "scaled": is_scaled(match.scale), "perspective": _perspective(h_orig, candidate_size)}
    return [edit for edit in _GEOMETRIC_EDITS if evident[edit]]


def is_scaled(scale: float) -> bool:
    """Whether a picture shown at `scale` (query pixels per original pixel) was resized."""
    return abs(math.log(max(scale, 1e-6))) > math.log(SCALED_BEYOND)


def _perspective(h_orig: np.ndarray, size) -> bool:
    """True when the original's outline is no longer a parallelogram (keystone).

    Opposite sides differing in length by over 3 % or in direction by over 2
    degrees; an affine copy (scaled, rotated, sheared) keeps both equal.
    """
    quad = _project(h_orig, _corners(size))
    sides = [quad[(i + 1) % 4] - quad[i] for i in range(4)]
    for a, b in ((sides[0], -sides[2]), (sides[1], -sides[3])):
        la, lb = float(np.hypot(*a)), float(np.hypot(*b))
        if abs(la - lb) > 0.03 * max(la, lb):
            return True
        cos = float(np.dot(a, b)) / max(la * lb, 1e-9)
        if math.degrees(math.acos(min(1.0, max(-1.0, cos)))) > 2.0:
            return True
    return False


def _colour_edits(query, candidate, h_orig, mirrored) -> list[str]:
    """"grayscale" or "recoloured" from the colour thumbnails, where colour is known."""
    if query.working_colour is None:
        return []
    chroma_original = _chroma(candidate.colour.astype(np.float32))
    colour = query.working_colour
    if mirrored:  # h_orig maps onto the unmirrored query: unmirror its pixels too
        colour = np.ascontiguousarray(colour[:, ::-1])
    ch, cw = candidate.colour.shape[:2]
    ow, oh = candidate.original_size
    qw, qh = query.original_size
    mapping = (np.linalg.inv(_pixel_scale(qw / colour.shape[1], qh / colour.shape[0]))
               @ h_orig @ _pixel_scale(ow / cw, oh / ch))
    levels = [colour]
    while min(levels[-1].shape[:2]) >= 2 * COLOUR_MAX_SIDE:
        levels.append(cv2.pyrDown(levels[-1]))
    warped, valid = _warp_from_pyramid(levels, mapping, (cw, ch))
    if valid.sum() < 8:
        return []
    query_pixels = warped.astype(np.float32)[valid]
    original_pixels = candidate.colour.astype(np.float32)[valid]
    chroma_query, chroma_original = _chroma(query_pixels), _chroma(original_pixels)
    if chroma_original > 8.0 and chroma_query < 2.5:
        return ["grayscale"]
    if chroma_original < 4.0:
        return []  # a near-neutral original: hue and saturation are not measurable
    # saturation relative to brightness, so that a brightness change alone is not a recolour
    saturation_ratio = _saturation(query_pixels) / max(_saturation(original_pixels), 1e-6)
    if not 0.65 <= saturation_ratio <= 1.5 or _hue_shift(query_pixels, original_pixels) > 12.0:
        return ["recoloured"]
    return []


def _opponent(rgb: np.ndarray) -> np.ndarray:
    """Opponent colour axes (red-green, yellow-blue) of pixels (..., 3) -> (n, 2)."""
    rgb = rgb.reshape(-1, 3)
    return np.stack([rgb[:, 0] - rgb[:, 1], 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]], axis=1)


def _chroma(rgb: np.ndarray) -> float:
    """Mean opponent-colour magnitude: ~0 for grayscale pixels."""
    return float(np.hypot(*_opponent(rgb).T).mean())


def _saturation(rgb: np.ndarray) -> float:
    """Mean chroma over brightness (scale-free colourfulness)."""
    rgb = rgb.reshape(-1, 3)
    return float((np.hypot(*_opponent(rgb).T) / (rgb.mean(axis=1) + 10.0)).mean())


def _hue_shift(query: np.ndarray, original: np.ndarray) -> float:
    """Chroma-weighted mean hue-angle difference in degrees between matching pixels."""
    a, b = _opponent(query), _opponent(original)
    weight = np.minimum(np.hypot(*a.T), np.hypot(*b.T))
    if weight.sum() < 1e-6:
        return 0.0
    angle = np.abs(np.angle((a[:, 0] + 1j * a[:, 1]) * np.conj(b[:, 0] + 1j * b[:, 1]), deg=True))
    return float((angle * weight).sum() / weight.sum())
