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
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .framing import framed_picture
from .media import WORKING_SIDE, DecodedImage

if TYPE_CHECKING:
    from .matcher import Match
    from .models import PartRecord
    from .prints import ImagePrints

#: How parts are found (framing.framed_picture), and the version of that method: stored on each
#: part row, so a change can tell the parts it did not make.
METHOD = "framed"
VERSION = "1"
#: The finder of a ledger that records none (see `finder`): one made before the finder was
#: recorded, whose images were searched with the first (or wait for the parts backfill).
FIRST_FINDER = "framed-1"
#: A picture framed on more than this share of its image has enough of the whole's features and
#: template blocks already (a caption banner, letterbox bars): it is not cut out. Tune half: the
#: pictures of social-media screenshots cover 0.21-0.42 of them (benchmarks/one_app.py's archive);
#: framed_picture finds a frame in 5 of 66 plain photographs too (a sky as flat as a page), at
#: 0.53-0.75.
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
    """The prints of one part and its box in the whole file's pixels (x0, y0, x1, y1)."""

    box: tuple[int, int, int, int]
    prints: "ImagePrints"


def part_key(whole_sha256: str, box: tuple[int, int, int, int]) -> str:
    """The ledger key of a part item: SHA-256 of its whole's SHA-256, the finder and the box."""
    return hashlib.sha256(f"{whole_sha256}#{METHOD}{VERSION}:{','.join(map(str, box))}".encode()).hexdigest()


def find_parts(decoded: DecodedImage) -> list[PartPrints]:
    """The parts of a decoded image, fingerprinted (none for most photographs).

    `decoded.image` may be larger than the working image (a scan's query-side decode): the part's
    features are then described from more of its pixels.
    """
    from .prints import fingerprint_image  # imported late: prints imports this module

    frame = framed_picture(decoded.image)
    if frame is None or frame.share > MAX_SHARE:
        return []
    sx, sy = decoded.width / decoded.image.width, decoded.height / decoded.image.height
    box = (int(round(frame.left * sx)), int(round(frame.top * sy)),
           int(round(frame.right * sx)), int(round(frame.bottom * sy)))
    width, height = box[2] - box[0], box[3] - box[1]
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_ASPECT * min(width, height):
        return []
    picture = decoded.image.crop(frame.box)
    if max(picture.size) > WORKING_SIDE:
        picture.thumbnail((WORKING_SIDE, WORKING_SIDE))
    part = DecodedImage(name=f"{decoded.name}#{METHOD}", sha256=part_key(decoded.sha256, box), file_size=0,
                        format="part", width=width, height=height, image=picture)
    return [PartPrints(box, fingerprint_image(part, parts=False))]


def finder() -> str:
    """This build's parts finder, as a ledger records it (schema_info ``parts_finder``: the finder
    its images were searched with). When METHOD or VERSION changes, the parts of the finder before
    take no part in matching, and `provenance reindex` searches every image again (reindex.py)."""
    return f"{METHOD}-{VERSION}"


def is_current(part: "PartRecord") -> bool:
    """Whether a part was cut by this build's finder (see `finder`; the parts of another take no
    part in matching: their boxes may be ones this finder would not cut)."""
    return (part.method, part.version) == (METHOD, VERSION)


def fold_parts(matches: list["Match"], parts: dict[int, "PartRecord"], whole_sizes: dict[int, tuple[int, int]]
               ) -> list["Match"]:
    """Matches on parts as matches on their whole items (other matches as they are).

    `parts` are the part rows of the matched items that are parts, `whole_sizes` their wholes'
    (width, height). Each match's geometry is carried into the whole's pixels (see
    `whole_evidence`) and its evidence names the part. Two matches on one whole (the whole and its
    part, say) are not merged here: the caller keeps the stronger. A match on a part another
    finder cut (see `finder`) is dropped.
    """
    out = []
    for m in matches:
        part = parts.get(m.item_id)
        if part is not None and not is_current(part):
            continue
        if part is None:
            item_id, evidence = m.item_id, dict(m.evidence)
        else:
            box = (part.x0, part.y0, part.x1, part.y1)
            item_id = part.whole_item_id
            evidence = whole_evidence(m.evidence, box, whole_sizes[item_id]) if m.method == "orb" else dict(m.evidence)
            evidence["part"] = {"item_id": m.item_id, "box": list(box), "method": part.method, "version": part.version,
                                "note": "matched the picture framed in this item, indexed on its own"}
            if m.evidence.get("quad_in_query"):  # where that picture lies in the query
                evidence["part"]["quad_in_query"] = m.evidence["quad_in_query"]
        via = parts.get(evidence.get("found_via"))  # led there by a match on a part: name its whole
        if via is not None:
            evidence["found_via"] = via.whole_item_id
        out.append(type(m)(item_id, m.method, m.distance, evidence))
    return out


def whole_evidence(evidence: dict, box: tuple[int, int, int, int], whole_size: tuple[int, int]) -> dict:
    """Local-feature evidence about a part, in its whole's pixels.

    The homography, the quadrilateral in the query, the visible box and the correspondences are
    moved by the part's offset; the visible share becomes the whole's, and the whole is "cropped"
    when the query shows less of it (the page around the picture is not the query's). The figures
    of the verification (inliers, blocks, detail, hull) stay those measured on the part.
    """
    from .local_match import _corners, _project  # as verify places the original in the query

    x0, y0 = box[0], box[1]
    ev = dict(evidence)
    shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])  # whole pixels -> part pixels
    h = np.asarray(ev["homography"], dtype=np.float64) @ shift
    ev["homography"] = [[float(v) for v in row] for row in h / h[2, 2]]
    w, ht = whole_size
    ev["quad_in_query"] = [[round(float(x), 2), round(float(y), 2)] for x, y in _project(h, _corners(whole_size))]
    vx0, vy0, vx1, vy1 = ev["visible_in_original"]
    ev["visible_in_original"] = [round(vx0 + x0, 2), round(vy0 + y0, 2), round(vx1 + x0, 2), round(vy1 + y0, 2)]
    part_area = (box[2] - box[0]) * (box[3] - box[1])
    ev["visible_share"] = round(float(ev["visible_share"]) * part_area / max(1, w * ht), 4)
    ev["correspondences"] = [[[round(ox + x0, 1), round(oy + y0, 1)], q] for (ox, oy), q in ev.get("correspondences", [])]
    edits = list(ev.get("edits", []))
    if "cropped" not in edits:
        edits.insert(0, "cropped")
    ev["edits"] = edits
    return ev
