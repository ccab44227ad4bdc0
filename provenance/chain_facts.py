"""What chain inference reads from the ledger about one work: items, sightings and links.

chain.py infers first-seen dates and chains from these facts alone, so works.py can load the facts
of many works in a few queries and infer each. One judgement is made here, while the ledger is at
hand: for a link whose earlier item sits whole inside the later one, whether the later one frames
it or it was cut out of the later one (surround.py reads the later item's stored template).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from .ledger import Ledger
from .ledger_works import evidence_of

#: A crop showing less than this share of the original (matcher.local_match flags "cropped").
CROPPED_SHARE = 0.97


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
    #: For a link whose earlier item sits whole inside the later one: "frame" or "crop"
    #: (surround.py), None when undecided or not such a link.
    surround: str | None = None


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
    links = [LinkFacts(r[0], r[1], r[2], r[3], r[4], r[5], evidence_of(r[6])) for r in ledger.link_facts(ids)
             if r[1] in items and r[2] in items]
    return WorkFacts(items, sightings, judge_surrounds(ledger, links, items))


def judge_surrounds(ledger: Ledger, links: list[LinkFacts], items: dict[int, ItemFacts]) -> list[LinkFacts]:
    """Say, for each link that found an earlier item whole inside a later one, whether the later
    one frames it or it was cut out of the later one (surround.py, from the stored template)."""
    from . import local_features
    from .media import WORKING_SIDE
    from .surround import surround

    def framed(link: LinkFacts) -> dict | None:
        orb = orb_evidence(link)
        if orb is None or "framed" not in (orb.get("edits") or []) or is_cropped(orb) or not orb.get("quad_in_query"):
            return None
        return orb if link.later in items else None

    todo = {link.id: orb for link in links if (orb := framed(link)) is not None}
    if not todo:
        return links
    blobs = ledger.feature_blobs({link.later for link in links if link.id in todo}, local_features.ALGORITHM,
                                 local_features.VERSION)
    out = []
    for link in links:
        orb, blob = todo.get(link.id), blobs.get(link.later)
        if orb is None or blob is None:
            out.append(link)
            continue
        quad = orb["quad_in_query"]
        later = items[link.later]
        size = orb.get("query_size")  # the quad is in the query file's pixels when the matcher says so
        if not size:  # older evidence: pixels of the working image the scan decoded
            shrink = min(1.0, WORKING_SIDE / max(later.width, later.height, 1))
            size = (later.width * shrink, later.height * shrink)
        verdict = surround(local_features.LocalFeatures.from_bytes(blob), quad, (float(size[0]), float(size[1])))
        out.append(replace(link, surround=verdict))
    return out


def orb_evidence(link: LinkFacts) -> dict | None:
    """The local-feature evidence of a link, whether it is the link's method or corroborates it."""
    ev = link.evidence
    if link.method == "orb":
        return ev
    return next((x for x in ev.get("also", []) if isinstance(x, dict) and x.get("method") == "orb"), None)


def is_cropped(orb: dict) -> bool:
    """Does the later item show only part of the earlier one?"""
    return "cropped" in (orb.get("edits") or []) or float(orb.get("visible_share", 1.0)) < CROPPED_SHARE


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
