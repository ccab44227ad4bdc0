"""Works, first sightings and histories, derived from the ledger's items, sightings and links.

A *work* is the set of items joined by accepted (not rejected) match links: every copy of one
picture. Its *first-seen* date is the earliest date an outlet claims for any sighting of it; a
work nobody dated falls back to the date we first indexed it, and says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from .ledger import Ledger, SightingView
from .models import MatchLink


@dataclass(frozen=True)
class FirstSeen:
    """The earliest sighting of a work and which date it rests on."""

    date: datetime
    source: str  # "claimed" (an outlet's claimed date) or "indexed" (when we first saw it)
    outlet: str | None
    sighting_id: int
    item_id: int

    def to_dict(self) -> dict:
        return {"date": self.date.isoformat(), "source": self.source, "outlet": self.outlet,
                "sighting_id": self.sighting_id, "item_id": self.item_id}


def first_seen(ledger: Ledger, item_ids: set[int], sightings: list[SightingView] | None = None) -> FirstSeen | None:
    """The first sighting of the work made of these items (claimed dates before indexing dates)."""
    views = sightings if sightings is not None else ledger.sightings(item_ids)
    dated = [v for v in views if v.published_at is not None]
    if dated:
        v = min(dated, key=lambda s: (s.published_at, s.indexed_at, s.sighting_id))
        return FirstSeen(v.published_at, "claimed", v.outlet, v.sighting_id, v.item_id)
    if views:
        v = min(views, key=lambda s: (s.indexed_at, s.sighting_id))
        return FirstSeen(v.indexed_at, "indexed", v.outlet, v.sighting_id, v.item_id)
    return None


@dataclass
class LinkView:
    """A match link between two items of a work, with its evidence."""

    earlier_item_id: int
    later_item_id: int
    method: str
    distance: float | None
    status: str
    found_at: datetime
    evidence: dict

    @classmethod
    def of(cls, row: MatchLink) -> "LinkView":
        return cls(row.earlier_item_id, row.later_item_id, row.method, row.distance, row.status, row.found_at,
                   json.loads(row.evidence_json or "{}"))

    def to_dict(self) -> dict:
        return {"earlier_item_id": self.earlier_item_id, "later_item_id": self.later_item_id,
                "method": self.method, "distance": self.distance, "status": self.status,
                "found_at": self.found_at.isoformat(), "evidence": self.evidence}


@dataclass
class History:
    """Every sighting of one work in date order, and the links that join its copies."""

    item_ids: list[int]
    sightings: list[SightingView]
    links: list[LinkView]
    first_seen: FirstSeen | None
    exif: dict[int, dict] = field(default_factory=dict)

    def links_of(self, item_id: int) -> list[LinkView]:
        """The links that touch one item: how this copy is joined to the others."""
        return [ln for ln in self.links if item_id in (ln.earlier_item_id, ln.later_item_id)]

    def to_dict(self) -> dict:
        return {
            "items": self.item_ids,
            "first_seen": self.first_seen.to_dict() if self.first_seen else None,
            "sightings": [
                {
                    "sighting_id": s.sighting_id,
                    "item_id": s.item_id,
                    "sha256": s.sha256,
                    "outlet": s.outlet,
                    "path": s.path,
                    "url": s.url,
                    "published_at": s.published_at.isoformat() if s.published_at else None,
                    "published_precision": s.published_precision,
                    "published_source": s.published_source,
                    "indexed_at": s.indexed_at.isoformat(),
                    "exif_taken_at": s.exif_taken_at.isoformat() if s.exif_taken_at else None,
                }
                for s in self.sightings
            ],
            "links": [ln.to_dict() for ln in self.links],
            "exif": {str(k): v for k, v in self.exif.items()},
        }


def history(ledger: Ledger, item_id: int) -> History:
    """The history of the work that contains one item."""
    ledger.item(item_id)  # NotFoundError for an unknown id
    ids = ledger.connected_items(item_id)
    sightings = ledger.sightings(ids)
    links = [LinkView.of(row) for row in ledger.links(ids)]
    items = ledger.items(ids)
    exif = {i: json.loads(items[i].exif_json or "{}") for i in sorted(ids)}
    return History(sorted(ids), sightings, links, first_seen(ledger, ids, sightings), exif)
