"""What chain inference reads from the ledger about one work: items, sightings and links.

chain.py infers first-seen dates and chains from these facts alone, so works.py can load the facts
of many works in a few queries and infer each. One judgement is made here, while the ledger is at
hand: for a link whose earlier item sits whole inside the later one, whether the later one frames
it or it was cut out of the later one (surround.py reads the later item's stored template); and
for a link whose later item shows part of the earlier one, whether what it leaves out is a frame
around that part or more of the picture (the earlier item's template).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .ledger import Ledger
from .ledger_works import evidence_of

if TYPE_CHECKING:
    from .local_features import LocalFeatures

#: A crop showing less than this share of the original (matcher.local_match flags "cropped").
CROPPED_SHARE = 0.97
#: The part of an earlier picture that a later one shows "spans" its width (or height) when it
#: leaves out at most this share of it on each side: what is left out is then bands along the
#: picture's edges (a banner, bars). Tune half (benchmarks/scan_links.py's photographs; scratch
#: measurement of surround.py's verdicts): 173 of 202 copies of a photograph under a caption
#: banner, in bars, a screenshot or a collage were judged framed, and 2 of 121 crops of it.
BAND_SLACK = 0.015
#: A quadrilateral is an upright box when its corners lie within this share of the image's width
#: (height) of the box's sides (upright_box).
UPRIGHT_SLACK = 0.01
#: At most this many links' judgements are remembered in one ledger session (~200 bytes each).
MAX_JUDGEMENTS = 200_000


@dataclass(frozen=True)
class ItemFacts:
    """What chain inference needs to know about an item."""

    id: int
    kind: str
    media_format: str
    width: int
    height: int
    file_size: int
    exif_taken_at: datetime | None
    first_indexed_at: datetime
    #: For video (set by the video reader in ``Item.exif_json["container_created_at"]``).
    container_created_at: datetime | None = None


@dataclass(frozen=True)
class SightingFacts:
    id: int
    item_id: int
    outlet_id: int | None
    outlet: str | None
    url: str | None
    path: str | None
    published_at: datetime | None
    precision: str | None
    source: str | None
    indexed_at: datetime


@dataclass(frozen=True)
class LinkFacts:
    id: int
    earlier: int
    later: int
    method: str
    distance: float | None
    status: str
    evidence: dict
    #: For a link whose earlier item sits whole inside the later one: "frame", "seam" (the later
    #: joins it to more along straight seams: a collage) or "crop" (surround.py), None when
    #: undecided or not such a link.
    surround: str | None = None
    #: For a link whose later item shows only part of the earlier one: "frame" when what it leaves
    #: out of the earlier one is a frame around that part (a banner, bars, a page: the later is
    #: the picture without them, not a crop of it), "seam" when straight seams part it from the
    #: rest (the earlier is a collage, the later one of its pictures), "crop" when the picture
    #: goes on there (surround.py, on the earlier item's template), None when undecided or not
    #: such a link.
    cut_away: str | None = None
    #: When the link was written: with its id, what a judgement of it is remembered by.
    found_at: datetime | None = None


@dataclass
class WorkFacts:
    items: dict[int, ItemFacts]
    sightings: list[SightingFacts]
    links: list[LinkFacts]


def load_facts(ledger: Ledger, item_ids: Iterable[int]) -> WorkFacts:
    """The items, sightings and accepted links of a set of items, from the ledger."""
    ids = sorted(set(item_ids))
    items = {row[0]: item_facts(row) for row in ledger.item_facts(ids)}
    sightings = [SightingFacts(*row) for row in ledger.sighting_facts(ids)]
    links = [link_facts(r) for r in ledger.link_facts(ids) if r[1] in items and r[2] in items]
    return WorkFacts(items, sightings, judge_surrounds(ledger, links, items))


def judge_surrounds(ledger: Ledger, links: list[LinkFacts], items: dict[int, ItemFacts]) -> list[LinkFacts]:
    """Say, for each link that found an earlier item whole inside a later one, whether the later
    one frames it or it was cut out of the later one; and for each link whose later item shows
    part of the earlier one, whether what it leaves out is a frame around that part or more of
    the picture (surround.py, from the stored templates)."""
    from . import local_features
    from .media import WORKING_SIDE

    def framed(link: LinkFacts) -> dict | None:
        orb = orb_evidence(link)
        if orb is None or "framed" not in (orb.get("edits") or []) or is_cropped(orb) or not orb.get("quad_in_query"):
            return None
        return orb if link.later in items else None

    def cut(link: LinkFacts) -> dict | None:
        orb = orb_evidence(link)
        if orb is None or not is_cropped(orb) or len(orb.get("visible_in_original") or ()) != 4:
            return None
        return orb if link.earlier in items else None

    # A link's evidence never changes, nor its items' templates but through a re-index of local
    # features, so neither does its judgement: it is made once per ledger session (a work's
    # chain is derived again whenever the work grows).
    judged = ledger.surround_judgements
    todo = [link for link in links if (link.id, link.found_at) not in judged]
    links = [replace(link, surround=judged[key][0], cut_away=judged[key][1])
             if (key := (link.id, link.found_at)) in judged else link for link in links]
    frames = {link.id: orb for link in todo if (orb := framed(link)) is not None}
    cuts = {link.id: orb for link in todo if (orb := cut(link)) is not None}
    if not frames and not cuts:
        return links
    to_judge = frames.keys() | cuts.keys()
    blobs = ledger.feature_blobs({item for link in links if link.id in to_judge for item in (link.earlier, link.later)},
                                 local_features.ALGORITHM, local_features.VERSION)
    out = []
    for link in links:
        if link.id in frames and link.later in blobs:
            orb, later = frames[link.id], items[link.later]
            size = orb.get("query_size")  # the quad is in the query file's pixels when the matcher says so
            if not size:  # older evidence: pixels of the working image the scan decoded
                shrink = min(1.0, WORKING_SIDE / max(later.width, later.height, 1))
                size = (later.width * shrink, later.height * shrink)
            earlier = local_features.LocalFeatures.from_bytes(blobs[link.earlier]) if link.earlier in blobs else None
            verdict = judge_frame(local_features.LocalFeatures.from_bytes(blobs[link.later]), orb["quad_in_query"],
                                  size, earlier, mirrored=bool(orb.get("mirrored")))
            link = replace(link, surround=verdict)
        elif link.id in cuts and link.earlier in blobs:
            orb = cuts[link.id]
            # the later copy shows just that part unless it frames it (then its edges are the frame's)
            shown = local_features.LocalFeatures.from_bytes(blobs[link.later]) \
                if link.later in blobs and "framed" not in (orb.get("edits") or []) else None
            verdict = judge_cut(local_features.LocalFeatures.from_bytes(blobs[link.earlier]),
                                orb["visible_in_original"], (items[link.earlier].width, items[link.earlier].height),
                                shown, mirrored=bool(orb.get("mirrored")))
            link = replace(link, cut_away=verdict)
        else:
            out.append(link)
            continue
        if len(judged) >= MAX_JUDGEMENTS:
            judged.clear()
        judged[link.id, link.found_at] = (link.surround, link.cut_away)
        out.append(link)
    return out


def judge_frame(later: LocalFeatures, quad: list[list[float]], size, earlier: LocalFeatures | None = None, *,
                mirrored: bool = False) -> str | None:
    """LinkFacts.surround of a link whose later copy shows the whole earlier picture at ``quad``
    (its corners in pixels of an image of ``size`` showing the later one): "frame", "seam",
    "crop" or None (surround.py, on the later item's template, and ``earlier``, the earlier
    picture's features)."""
    from .surround import seams, surround

    size = (float(size[0]), float(size[1]))
    verdict = surround(later, quad, size)
    box = upright_box(quad, size)
    if verdict != "frame" and box is not None and seams(later, box, size, earlier, mirrored=mirrored):
        return "seam"
    return verdict


def judge_cut(earlier: LocalFeatures, box, size, shown: LocalFeatures | None = None, *,
              mirrored: bool = False) -> str | None:
    """LinkFacts.cut_away of a link whose later copy shows ``box`` (x0, y0, x1, y1) of the earlier
    picture, of ``size`` pixels: "frame", "seam", "crop" or None (surround.py, on the earlier
    item's template, and ``shown``, the later copy's features, when it shows just that part)."""
    from .surround import seams, surround

    w, h = float(size[0]), float(size[1])
    x0, y0, x1, y1 = (float(v) for v in box)
    # a flat surround, or a border along the part shown, makes a frame only where what is left out
    # runs along the picture's edges, as a banner or bars do: a crop leaving out a smooth sky does
    # not, nor one whose side runs along a horizon (surround.py)
    bands = shows_bands(box, size)
    verdict = surround(earlier, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], (w, h), flat_test=bands, border_test=bands)
    if verdict != "frame" and seams(earlier, (x0, y0, x1, y1), (w, h), shown, mirrored=mirrored):
        return "seam"
    return verdict


def shows_bands(box, size) -> bool:
    """Does the part ``box`` of a picture of ``size`` span its width or its height (to within
    BAND_SLACK), leaving out bands along its edges, as a banner's or bars' copy does?"""
    w, h = float(size[0]), float(size[1])
    x0, y0, x1, y1 = (float(v) for v in box)
    return ((x0 <= BAND_SLACK * w and x1 >= (1 - BAND_SLACK) * w)
            or (y0 <= BAND_SLACK * h and y1 >= (1 - BAND_SLACK) * h))


def upright_box(quad: list[list[float]], size: tuple[float, float]) -> tuple[float, float, float, float] | None:
    """The box (x0, y0, x1, y1) that a quadrilateral fills, when it is one: an upright rectangle
    to within UPRIGHT_SLACK of the image's sides (a picture pasted into a collage is; one
    photographed off a screen is not); else None."""
    if len(quad) != 4:
        return None
    xs, ys = sorted(float(x) for x, _ in quad), sorted(float(y) for _, y in quad)
    if xs[1] - xs[0] > UPRIGHT_SLACK * size[0] or xs[3] - xs[2] > UPRIGHT_SLACK * size[0] \
            or ys[1] - ys[0] > UPRIGHT_SLACK * size[1] or ys[3] - ys[2] > UPRIGHT_SLACK * size[1]:
        return None
    return (xs[0] + xs[1]) / 2, (ys[0] + ys[1]) / 2, (xs[2] + xs[3]) / 2, (ys[2] + ys[3]) / 2


def orb_evidence(link: LinkFacts) -> dict | None:
    """The local-feature evidence of a link, whether it is the link's method or corroborates it."""
    ev = link.evidence
    if link.method == "orb":
        return ev
    return next((x for x in ev.get("also", []) if isinstance(x, dict) and x.get("method") == "orb"), None)


def is_cropped(orb: dict) -> bool:
    """Does the later item show only part of the earlier one?"""
    return "cropped" in (orb.get("edits") or []) or float(orb.get("visible_share", 1.0)) < CROPPED_SHARE


def link_facts(row) -> LinkFacts:
    """LinkFacts from a row of Ledger.link_facts (its surround verdicts not yet judged)."""
    return LinkFacts(row[0], row[1], row[2], row[3], row[4], row[5], evidence_of(row[6]), found_at=row[7])


def item_facts(row) -> ItemFacts:
    """ItemFacts from a row of Ledger.item_facts."""
    item_id, kind, fmt, width, height, size, exif_at, indexed, exif_json = row
    container = None
    if exif_json and "container_created_at" in exif_json:
        container = parse_utc(evidence_of(exif_json).get("container_created_at"))
    return ItemFacts(item_id, kind, fmt, width, height, size, exif_at, indexed, container)


def parse_utc(value) -> datetime | None:
    """An ISO date-time string as an aware UTC datetime (no zone means UTC); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
