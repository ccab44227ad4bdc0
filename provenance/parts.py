"""Parts: the picture framed in an indexed image, indexed as an item of its own.

A social-media post's screenshot shows its picture on a fifth to two fifths of its area. The
stored features of the whole (its longest side at most WORKING_SIDE) keep few keypoints on that
picture, and its 128-px template gives it a handful of comparison blocks, so another post of the
same picture (another account, app or theme) matched the first post's page or nothing at all, and
so did the photograph itself when the post was indexed before it: the archive's posts of one
picture stayed apart.

So when an indexed image frames one picture in a flat page (framing.framed_picture, as the
framed look finds it in a query) and that picture covers at most MAX_SHARE of it, the picture is
cut out, from the largest decode at hand, and fingerprinted like any image: an item of kind
"part" with its own PDQ, pHash and local features (a template of its own), and a ``part`` row
naming its whole item and its box (models.PartRecord). It has no sightings and no work: a match
on a part is reported as a match on its whole item (``fold_parts``), with the geometry carried
into the whole's pixels and the part named in the evidence.

A phone photo of a screen showing a post frames no picture upright: its picture is found as the
framed-on-screen look finds it in a query (screen.screen_picture, then framing.framed_on_screen
in the straightened screen), cut out straightened, and recorded with its four corners in the
whole (method "screen"). Before, an archive's photographed post was found only by a query whose
page agreed with it: the archive's own screenshot of another post of the picture was not. A
photographed screen in which no page frames a picture is cut out whole, straightened (method
"screen_whole"): a monitor showing a photograph, or, on a phone in a dark theme, the post's bright
picture itself, which screen.screen_picture takes for the screen (the dark page around it is the
darker surround it looks for).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Sequence

import cv2
import numpy as np
from PIL import Image

from .framing import framed_picture
from .media import WORKING_SIDE, DecodedImage

if TYPE_CHECKING:
    from .framing import Frame
    from .local_match import PhotographedScreen
    from .matcher import Match
    from .models import PartRecord
    from .prints import ImagePrints
    from .screen import Screen

#: How parts are found, each method with its version, stored on each part row so that a change
#: can tell the parts it did not make: "framed", the picture framed in the image
#: (framing.framed_picture); "screen", the picture framed in the page a photographed screen
#: shows, straightened (screen.screen_picture, framing.framed_on_screen); "screen_whole", such a
#: screen straightened whole, when no page frames a picture in it.
METHODS = {"framed": "1", "screen": "1", "screen_whole": "1"}


@dataclass(frozen=True)
class PartWording:
    """How a match's evidence, `check`, `history` and `--visual` name a part of one method.

    note: what a match on such a part matched (its evidence's "part" note); place: where the
    part lies in its whole, after a match's text ({id}, {box}); whole: what the part item is
    ({whole}); caption: the same, after a `--visual` caption.
    """

    note: str
    place: str
    whole: str
    caption: str


WORDING = {
    "framed": PartWording(
        "matched the picture framed in this item, indexed on its own",
        "in the picture framed in it, part {id}, at {box}",
        "the picture framed in item {whole}",
        " · in its framed picture (blue)"),
    "screen": PartWording(
        "matched the picture of the post on the screen photographed in this item, straightened and "
        "indexed on its own",
        "in the post on the screen photographed in it, part {id}, within {box}",
        "the picture of the post on the screen photographed in item {whole}",
        " · in the post on its photographed screen (blue)"),
    "screen_whole": PartWording(
        "matched the picture on the screen photographed in this item, straightened and indexed on its own",
        "on the screen photographed in it, part {id}, within {box}",
        "the picture on the screen photographed in item {whole}",
        " · on its photographed screen (blue)"),
}


def wording(method: str) -> PartWording:
    """WORDING of a method, or plain words for one this build does not know (a retired one's)."""
    return WORDING.get(method) or PartWording(
        f"matched a part ({method}) of this item, indexed on its own",
        f"in a part of it ({method}), part {{id}}, at {{box}}",
        f"a part ({method}) of item {{whole}}",
        " · in a part of it (blue)")

#: The finder of a ledger that records none (see `finder`): one made before the finder was
#: recorded, whose images were searched with the first (or wait for the parts backfill).
FIRST_FINDER = "framed-1"
#: A picture framed on more than this share of its image, or a photographed screen without a page
#: covering more of it, has enough of the whole's features and template blocks already (a caption
#: banner, letterbox bars, a monitor filling the photo): it is not cut out. Tune half: the pictures
#: of social-media screenshots cover 0.21-0.42 of them (benchmarks/one_app.py's archive);
#: framed_picture finds a frame in 5 of 66 plain photographs too (a sky as flat as a page), at
#: 0.53-0.75. The post's picture framed in a photographed screen's page is cut out whatever its
#: share of that screen, because the whole shows it small and at an angle: the pictures of that
#: archive's phone photos of posts cover 0.20-0.77 of their straightened screens (median 0.34),
#: and the 3 of 66 over this share were left unlinked to the archive's screenshot of their post
#: while they were not cut. In 3 of its phone photos in a dark theme the "screen" found is the
#: post's picture (0.19-0.26 of the photo; the dark page around it is the darker surround).
MAX_SHARE = 0.5
#: A part's shorter side in the whole file's pixels must reach this, or it has too few pixels to
#: describe on its own.
MIN_SIDE = 64
#: ... and its longer side be at most this many times its shorter: a strip's 128-px template holds
#: no row of comparison blocks (local_match.BLOCK), so nothing could verify a match on it. (The
#: generated web-page scenes of the benchmarks frame banners of 4:1.)
MAX_ASPECT = 3.0


@dataclass
class PartPrints:
    """The prints of one part, its box in the whole file's pixels (x0, y0, x1, y1), how it was
    found (a key of METHODS) and, for a part of a photographed screen, its corners in the whole
    file's pixels (top-left, top-right, bottom-right, bottom-left; the box bounds them)."""

    box: tuple[int, int, int, int]
    prints: "ImagePrints"
    method: str = "framed"
    quad: tuple[tuple[float, float], ...] | None = None


def part_key(whole_sha256: str, box: tuple[int, int, int, int], method: str = "framed") -> str:
    """The ledger key of a part item: SHA-256 of its whole's SHA-256, the method and its version,
    and the box."""
    return hashlib.sha256(f"{whole_sha256}#{method}{METHODS[method]}:{','.join(map(str, box))}".encode()).hexdigest()


@dataclass(frozen=True)
class Looked:
    """What looking for an image's parts found in it: the picture framed in it
    (framing.framed_picture), always looked for, and the screen photographed in it
    (screen.screen_picture, in the image's pixels), looked for only when no framed picture was cut
    (`at_screen`); None when there is none. A scan's writer, matching the image, takes them
    instead of looking again (local_match.search)."""

    frame: "Frame | None"
    screen: "Screen | None" = None
    at_screen: bool = False


def find_parts(decoded: DecodedImage) -> list[PartPrints]:
    """The parts of a decoded image, fingerprinted (none for most photographs): the picture framed
    in it, or else the one framed on a screen photographed in it, or else that screen's picture.

    `decoded.image` may be larger than the working image (a scan's query-side decode): the part's
    features are then described from more of its pixels.
    """
    return search_parts(decoded)[0]


def search_parts(decoded: DecodedImage) -> tuple[list[PartPrints], Looked]:
    """find_parts, and what it found in looking (Looked)."""
    frame = framed_picture(decoded.image)
    part = _framed_part(decoded, frame)
    if part is not None:
        return [part], Looked(frame)
    part, screen = _screen_part(decoded)
    return ([] if part is None else [part]), Looked(frame, screen, at_screen=True)


def _framed_part(decoded: DecodedImage, frame: "Frame | None") -> PartPrints | None:
    if frame is None or frame.share > MAX_SHARE:
        return None
    sx, sy = decoded.width / decoded.image.width, decoded.height / decoded.image.height
    box = (int(round(frame.left * sx)), int(round(frame.top * sy)),
           int(round(frame.right * sx)), int(round(frame.bottom * sy)))
    if not _sized_for_a_part(box[2] - box[0], box[3] - box[1]):
        return None
    return _fingerprinted(decoded, decoded.image.crop(frame.box), box, "framed", (box[2] - box[0], box[3] - box[1]))


def _screen_part(decoded: DecodedImage) -> tuple[PartPrints | None, "Screen | None"]:
    """The part cut from the screen photographed in an image, if any, and that screen."""
    from .local_match import PhotographedScreen  # cut as the screen looks find it in a query

    seen = PhotographedScreen(decoded.image, decoded.size)
    if seen.screen is None:
        return None, None
    cut = _page_picture(seen) if seen.page_frame is not None else _whole_screen(seen)
    if cut is None or not _sized_for_a_part(*cut.size):
        return None, seen.screen
    quad = tuple((round(float(x), 2), round(float(y), 2)) for x, y in cut.quad)
    xs, ys = [x for x, _ in quad], [y for _, y in quad]
    bounds = (max(0, int(np.floor(min(xs)))), max(0, int(np.floor(min(ys)))),
              min(decoded.width, int(np.ceil(max(xs)))), min(decoded.height, int(np.ceil(max(ys)))))
    return _fingerprinted(decoded, seen.straightened.crop(cut.box), bounds, cut.method, cut.size, quad), seen.screen


class _ScreenCut(NamedTuple):
    """What to cut from a photographed screen: a box of its straightened picture, that box's size
    and corners in the whole file's pixels, and the method."""

    box: tuple[int, int, int, int]
    size: tuple[int, int]
    quad: Sequence[Sequence[float]]
    method: str


def _page_picture(seen: "PhotographedScreen") -> _ScreenCut:
    """The picture framed in the page the screen shows (a post's)."""
    frame = seen.page_frame
    size = (round((frame.right - frame.left) * seen.factor),  # the decode's pixels -> the file's
            round((frame.bottom - frame.top) * seen.factor))
    return _ScreenCut(frame.box, size, seen.page[0], "screen")


def _whole_screen(seen: "PhotographedScreen") -> _ScreenCut | None:
    """The screen's whole picture, when it covers at most MAX_SHARE of the image."""
    if seen.screen.share > MAX_SHARE:
        return None
    return _ScreenCut((0, 0, *seen.straightened.size), seen.in_file.size(), seen.in_file.corners, "screen_whole")


def _sized_for_a_part(width: int, height: int) -> bool:
    return min(width, height) >= MIN_SIDE and max(width, height) <= MAX_ASPECT * min(width, height)


def _fingerprinted(decoded: DecodedImage, picture: Image.Image, box: tuple[int, int, int, int], method: str,
                   size: tuple[int, int], quad: tuple[tuple[float, float], ...] | None = None) -> PartPrints:
    """A part's prints: its picture as a decoded image of `size` (in the whole file's pixels)."""
    from .prints import fingerprint_image  # imported late: prints imports this module

    if max(picture.size) > WORKING_SIDE:
        picture.thumbnail((WORKING_SIDE, WORKING_SIDE))
    part = DecodedImage(name=f"{decoded.name}#{method}", sha256=part_key(decoded.sha256, box, method), file_size=0,
                        format="part", width=size[0], height=size[1], image=picture)
    return PartPrints(box, fingerprint_image(part, parts=False), method, quad)


def finder() -> str:
    """This build's parts finder, as a ledger records it (schema_info ``parts_finder``: the finder
    its images were searched with). When METHODS change, the parts of the finder before take no
    part in matching, and `provenance reindex` searches every image again (reindex.py)."""
    return ",".join(f"{method}-{version}" for method, version in sorted(METHODS.items()))


def is_current(part: "PartRecord") -> bool:
    """Whether a part was cut by this build's finder (see `finder`; the parts of another take no
    part in matching: their boxes may be ones this finder would not cut)."""
    return METHODS.get(part.method) == part.version


def part_to_whole(part: "PartRecord", part_size: tuple[int, int]) -> np.ndarray:
    """The homography from a part's pixels (of `part_size`, the part item's width and height) to
    its whole file's: a shift to its box, or the straightened screen's perspective."""
    if part.quad is None:
        return np.array([[1.0, 0.0, part.x0], [0.0, 1.0, part.y0], [0.0, 0.0, 1.0]])
    w, h = part_size
    rect = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    return cv2.getPerspectiveTransform(rect, np.float32(json.loads(part.quad))).astype(np.float64)


def fold_parts(matches: list["Match"], parts: dict[int, "PartRecord"], sizes: dict[int, tuple[int, int]]
               ) -> list["Match | None"]:
    """Matches on parts as matches on their whole items (other matches as they are).

    `parts` are the part rows of the matched items that are parts, `sizes` the (width, height) of
    those parts and of their wholes, by item id. Each match's geometry is carried into the whole's
    pixels (see `whole_evidence`) and its evidence names the part. Two matches on one whole (the
    whole and its part, say) are not merged here: the caller keeps the stronger. A match on a part
    another finder cut (see `finder`) is dropped: None in its place, so that a caller pairing each
    match with facts of its own keeps its pairs.
    """
    out = []
    for m in matches:
        part = parts.get(m.item_id)
        if part is not None and not is_current(part):
            out.append(None)
            continue
        if part is None:
            item_id, evidence = m.item_id, dict(m.evidence)
        else:
            item_id = part.whole_item_id
            evidence = (whole_evidence(m.evidence, part, sizes[m.item_id], sizes[item_id]) if m.method == "orb"
                        else dict(m.evidence))
            evidence["part"] = {"item_id": m.item_id, "box": [part.x0, part.y0, part.x1, part.y1],
                                "method": part.method, "version": part.version, "note": wording(part.method).note}
            if part.quad is not None:
                evidence["part"]["quad"] = json.loads(part.quad)
            if m.evidence.get("quad_in_query"):  # where that picture lies in the query
                evidence["part"]["quad_in_query"] = m.evidence["quad_in_query"]
        via = parts.get(evidence.get("found_via"))  # led there by a match on a part: name its whole
        if via is not None:
            evidence["found_via"] = via.whole_item_id
        out.append(type(m)(item_id, m.method, m.distance, evidence))
    return out


def whole_evidence(evidence: dict, part: "PartRecord", part_size: tuple[int, int],
                   whole_size: tuple[int, int]) -> dict:
    """Local-feature evidence about a part, in its whole's pixels.

    The homography, the quadrilateral in the query, the visible box and the correspondences are
    carried through the part's place in the whole (`part_to_whole`); the visible share becomes
    the whole's, and the whole is "cropped" when the query shows less of it (the page around the
    picture is not the query's). The figures of the verification (inliers, blocks, detail, hull)
    stay those measured on the part. Where the whole's corners have no place in the query (a
    photographed screen straightened: the photo's far corners lie beyond its horizon), the
    quadrilateral is the part's own.
    """
    from .local_match import _corners, _project  # as verify places the original in the query

    to_whole = part_to_whole(part, part_size)
    ev = dict(evidence)
    h = np.asarray(ev["homography"], dtype=np.float64) @ np.linalg.inv(to_whole)
    h = h / h[2, 2]
    ev["homography"] = [[float(v) for v in row] for row in h]
    corners = _corners(whole_size)
    if np.all(corners @ h[2, :2] + h[2, 2] > 1e-6):
        ev["quad_in_query"] = [[round(float(x), 2), round(float(y), 2)] for x, y in _project(h, corners)]
    vx0, vy0, vx1, vy1 = ev["visible_in_original"]
    visible = _project(to_whole, np.float64([[vx0, vy0], [vx1, vy0], [vx1, vy1], [vx0, vy1]]))
    w, ht = whole_size
    ev["visible_in_original"] = [round(float(np.clip(visible[:, 0].min(), 0, w)), 2),
                                 round(float(np.clip(visible[:, 1].min(), 0, ht)), 2),
                                 round(float(np.clip(visible[:, 0].max(), 0, w)), 2),
                                 round(float(np.clip(visible[:, 1].max(), 0, ht)), 2)]
    in_whole = _project(to_whole, _corners(part_size))
    in_whole_area = abs(cv2.contourArea(np.float32(in_whole)))
    ev["visible_share"] = round(float(ev["visible_share"]) * in_whole_area / max(1, w * ht), 4)
    points = [(ox, oy) for (ox, oy), _ in ev.get("correspondences", [])]
    moved = _project(to_whole, np.float64(points).reshape(-1, 2)) if points else []
    ev["correspondences"] = [[[round(float(x), 1), round(float(y), 1)], q]
                             for (x, y), (_, q) in zip(moved, ev.get("correspondences", []))]
    edits = list(ev.get("edits", []))
    if "cropped" not in edits:
        edits.insert(0, "cropped")
    ev["edits"] = edits
    return ev

