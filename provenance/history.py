"""The history of a work: every sighting in date order, the links that join its copies (with
their evidence and reviews), its chain, notes and events. What `provenance history` prints."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from .chain import Chain, ChainNode, FirstSeen, Flag, item_chain
from .ledger import Ledger, SightingView
from .models import MatchLink


@dataclass
class LinkView:
    """A match link between two items of a work, with its evidence and any review."""

    earlier_item_id: int
    later_item_id: int
    method: str
    distance: float | None
    status: str
    found_at: datetime
    evidence: dict
    id: int | None = None
    reviewed_by: str | None = None
    review_note: str | None = None

    @classmethod
    def of(cls, row: MatchLink) -> "LinkView":
        return cls(row.earlier_item_id, row.later_item_id, row.method, row.distance, row.status, row.found_at,
                   json.loads(row.evidence_json or "{}"), row.id, row.reviewed_by, row.review_note)

    def to_dict(self) -> dict:
        return {"link_id": self.id, "earlier_item_id": self.earlier_item_id, "later_item_id": self.later_item_id,
                "method": self.method, "distance": self.distance, "status": self.status,
                "found_at": self.found_at.isoformat(), "reviewed_by": self.reviewed_by,
                "review_note": self.review_note, "evidence": self.evidence}


@dataclass
class History:
    """Every sighting of one work in date order, how its copies are joined, and what was said."""

    item_ids: list[int]
    sightings: list[SightingView]
    links: list[LinkView]
    first_seen: FirstSeen | None
    exif: dict[int, dict] = field(default_factory=dict)
    work_id: int | None = None
    flags: list[Flag] = field(default_factory=list)
    chain: Chain | None = None
    notes: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    def links_of(self, item_id: int) -> list[LinkView]:
        """The links that touch one item: how this copy is joined to the others."""
        return [ln for ln in self.links if item_id in (ln.earlier_item_id, ln.later_item_id)]

    def node(self, sighting_id: int) -> ChainNode | None:
        if self.chain is None:
            return None
        return next((n for n in self.chain.nodes if n.sighting_id == sighting_id), None)

    def to_dict(self) -> dict:
        sightings = []
        for s in self.sightings:
            node = self.node(s.sighting_id)
            sightings.append({
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
                "dates": [d.to_dict() for d in node.dates] if node else [],
                "parent_sighting_id": node.parent_sighting_id if node else None,
                "chain_basis": node.basis if node else None,
                "chain_reason": node.reason if node else None,
            })
        return {
            "work_id": self.work_id,
            "items": self.item_ids,
            "first_seen": self.first_seen.to_dict() if self.first_seen else None,
            "flags": [f.to_dict() for f in self.flags],
            "sightings": sightings,
            "links": [ln.to_dict() for ln in self.links],
            "exif": {str(k): v for k, v in self.exif.items()},
            "notes": [_jsonable(n) for n in self.notes],
            "events": [_jsonable(e) for e in self.events],
        }


def history(ledger: Ledger, item_id: int) -> History:
    """The history of the work that contains one item."""
    with ledger.reading():
        chain = item_chain(ledger, item_id)
        ids = chain.item_ids
        links = [LinkView.of(row) for row in ledger.links(ids, include_rejected=True)]
        items = ledger.items(ids)
        exif = {i: json.loads(items[i].exif_json or "{}") for i in ids}
        works = [chain.work_id, *ledger.merged_work_ids(chain.work_id)] if chain.work_id is not None else []
        return History(ids, ledger.sightings(ids), links, chain.first_seen, exif, chain.work_id, chain.flags,
                       chain, ledger.notes(ids, works), ledger.work_events(works))


def _jsonable(row: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
